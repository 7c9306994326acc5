from django.apps import AppConfig


class CdrsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cdrs"
    verbose_name = "CDRs"

    def ready(self) -> None:
        # Registers the "cdrs" outbox module (who receives a CDR, how it is POSTed).
        from . import outbox_hooks  # noqa: F401
