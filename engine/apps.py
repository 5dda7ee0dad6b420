from django.apps import AppConfig


class EngineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "engine"
    verbose_name = "Quoting engine"

    def ready(self) -> None:
        # How workers stop and start (engine/workers.py): connected in every process.
        from engine import workers  # noqa: F401
