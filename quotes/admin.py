from django.contrib import admin, messages

from quotes.models import Lead, MomentumHealth, Quote
from quotes.services import health


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["contact_name", "email", "company", "user", "created_at"]
    search_fields = ["contact_name", "email", "company"]
    raw_id_fields = ["user"]


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "street_address",
        "city",
        "state",
        "zip_code",
        "source",
        "status",
        "momentum_quote_id",
        "mrc",
        "carrier",
        "created_at",
    ]
    list_filter = [
        "status",
        "source",
        "taken_as",
        ("abandoned_at", admin.EmptyFieldListFilter),
        ("late_result_at", admin.EmptyFieldListFilter),
        "created_at",
    ]
    search_fields = ["street_address", "city", "zip_code", "momentum_quote_id", "lead__email"]
    raw_id_fields = ["lead", "taken_from"]
    date_hierarchy = "created_at"
    list_select_related = ["lead"]
    # The lifecycle moves these; editing them by hand would break the slot's rules.
    readonly_fields = [
        "public_id",
        "status",
        "momentum_slot",
        "lease_token",
        "lease_expires_at",
        "idempotency_key",
        "submit_attempts",
        "submit_ambiguous",
        "give_ups",
        "forgotten_count",
        "momentum_quote_id",
        "mrc",
        "nrc",
        "carrier",
        "error_message",
        "raw_payload",
        "claimed_at",
        "submitted_at",
        "deadline_at",
        "completed_at",
        "timed_out_at",
        "late_result_at",
        "abandoned_at",
        "address_key",
        "outcome_kind",
        "taken_from",
        "taken_as",
        "pricing_low_seconds",
        "pricing_high_seconds",
    ]


@admin.register(MomentumHealth)
class MomentumHealthAdmin(admin.ModelAdmin):
    list_display = ["__str__", "config_error", "consecutive_failures", "paused_until", "updated_at"]
    readonly_fields = ["paused_until", "consecutive_failures", "last_error", "config_error"]
    actions = ["clear_configuration_error"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="The API key is fixed: clear the error and resume work")
    def clear_configuration_error(self, request, queryset) -> None:
        health.clear_configuration_error()
        self.message_user(request, "Work resumes now.", messages.SUCCESS)
