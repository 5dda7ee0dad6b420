from django.contrib import admin, messages

from webhooks import services
from webhooks.models import Delivery, Endpoint


@admin.register(Endpoint)
class EndpointAdmin(admin.ModelAdmin):
    list_display = ["id", "url", "user", "events", "is_active", "disabled_at", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "user__email"]
    readonly_fields = ["secret", "disabled_at", "disabled_reason", "created_at"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event"]
    search_fields = ["id", "subject", "endpoint__url"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    actions = ["send_again"]

    @admin.action(description="Send again")
    def send_again(self, request, queryset) -> None:
        sent = 0
        for delivery in queryset:
            try:
                services.send_again(delivery=delivery)
                sent += 1
            except services.DeliveryRefused as refused:
                self.message_user(request, f"{delivery.id}: {refused}", messages.WARNING)
        self.message_user(request, f"{sent} deliveries sent again.")
