from django.apps import AppConfig


class SessionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions"
    label = "charging_sessions"  # "sessions" is taken by django.contrib.sessions
    verbose_name = "Charging sessions"

    def ready(self) -> None:
        # Register the "sessions" outbox module (audience: the token owner; push: PUT/PATCH).
        from . import outbox_hooks  # noqa: F401
