from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from config.celery import wake_engine
from quotes.models import Lead, MomentumHealth, Quote
from quotes.services import health
from quotes.services.lifecycle import free_slot

FREE_SLOT_ACTION = "Free Momentum slot (the quote may still be pending at Momentum)"
FREE_SINGLE_SLOT_WARNING = (
    "This frees Momentum's one-in-flight slot held by the selected single quotes WITHOUT "
    "Momentum's answer: they end as unavailable, and the next quote is submitted while "
    "Momentum may still be pricing these, so two quotes may be in flight at Momentum. "
    "Use it only when Momentum says the quote is gone. A bulk row's quote is freed from "
    "its job (Batch jobs), so that the job's rows are told."
)


def free_slot_confirmation(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, warning: str
) -> TemplateResponse:
    """The page staff confirm before "Free Momentum slot" (jobs or single quotes)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "title": FREE_SLOT_ACTION,
        "warning": warning,
        "items": queryset,
        "opts": model_admin.model._meta,
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/free_slot_confirmation.html", context)


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
    actions = ["free_momentum_slot"]
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

    @admin.action(description=FREE_SLOT_ACTION)
    def free_momentum_slot(self, request: HttpRequest, queryset: QuerySet):
        """Single quotes only, after staff confirm a page that says what it does."""
        bulk = queryset.filter(source=Quote.Source.BULK)
        if bulk.exists():
            ids = ", ".join(str(pk) for pk in bulk.values_list("pk", flat=True))
            self.message_user(
                request,
                f"Quotes {ids} are bulk rows' quotes: free the slot from their job "
                "(Batch jobs), so that its rows are told. Nothing was freed.",
                messages.WARNING,
            )
            return None
        if request.POST.get("confirm") != "yes":
            return free_slot_confirmation(self, request, queryset, FREE_SINGLE_SLOT_WARNING)
        freed = [pk for pk in queryset.values_list("pk", flat=True) if free_slot(quote_id=pk)]
        if freed:
            wake_engine()
        self.message_user(
            request,
            f"Freed Momentum's slot from {len(freed)} quote{'s' if len(freed) != 1 else ''}; "
            "the others held none.",
            messages.SUCCESS if freed else messages.WARNING,
        )
        return None


@admin.register(MomentumHealth)
class MomentumHealthAdmin(admin.ModelAdmin):
    list_display = [
        "account",
        "staff_state",
        "config_error",
        "consecutive_failures",
        "paused_until",
        "updated_at",
    ]
    readonly_fields = [
        "account",
        "paused_until",
        "consecutive_failures",
        "last_error",
        "config_error",
    ]
    actions = ["clear_configuration_error", "pause_accounts", "drain_accounts", "resume_accounts"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="The API key is fixed: clear the error and resume work")
    def clear_configuration_error(self, request, queryset) -> None:
        for account in queryset.values_list("account", flat=True):
            health.clear_configuration_error(account)
        self.message_user(request, "Work resumes now.", messages.SUCCESS)

    @admin.action(description="Pause: no new quotes (quotes in flight finish)")
    def pause_accounts(self, request, queryset) -> None:
        self._set_state(request, queryset, MomentumHealth.StaffState.PAUSED)

    @admin.action(description="Drain before removing: no new quotes (quotes in flight finish)")
    def drain_accounts(self, request, queryset) -> None:
        self._set_state(request, queryset, MomentumHealth.StaffState.DRAINING)

    @admin.action(description="Resume: take new quotes again")
    def resume_accounts(self, request, queryset) -> None:
        self._set_state(request, queryset, MomentumHealth.StaffState.ACTIVE)

    def _set_state(self, request, queryset, state: str) -> None:
        names = list(queryset.values_list("account", flat=True))
        for account in names:
            health.set_staff_state(account, state=state)
        label = MomentumHealth.StaffState(state).label.lower()
        self.message_user(request, f"{', '.join(names)}: {label} from the next quote.")
