from django.contrib import admin

from ops.models import Incident


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "opened_at", "closed_at", "open_email_sent_at"]
    list_filter = ["kind", ("closed_at", admin.EmptyFieldListFilter), "opened_at"]
    search_fields = ["key", "detail", "end_detail"]
    date_hierarchy = "opened_at"
    readonly_fields = [
        "kind",
        "key",
        "detail",
        "what_to_do",
        "end_detail",
        "opened_at",
        "closed_at",
        "open_email_sent_at",
        "close_email_sent_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False
