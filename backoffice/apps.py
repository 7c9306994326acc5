from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """Staff pages over several apps (the dashboard at /admin/dashboard/).

    Top layer beside chargepoints: it reads partners, locations, sessions and cdrs; no app imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "backoffice"
    label = "backoffice"
    verbose_name = "Back office"

    def ready(self) -> None:
        # `make run`: retries of failed pushes and the other beat entries without a worker or a beat
        # (ocpi_platform/inprocess_beat.py; settings.OCPI_INPROCESS_BEAT, on in dev settings with eager tasks).
        from ocpi_platform.inprocess_beat import start_if_enabled

        start_if_enabled()
