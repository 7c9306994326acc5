from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """Staff pages over several apps (the dashboard at /admin/dashboard/).

    Top layer beside chargepoints: it reads partners, locations, sessions and cdrs; no app imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "backoffice"
    label = "backoffice"
    verbose_name = "Back office"
