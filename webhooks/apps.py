from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "webhooks"

    def ready(self) -> None:
        # Webhooks subscribe to what bulk and quotes announce; neither imports webhooks.
        from webhooks import events

        events.subscribe()
