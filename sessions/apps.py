from django.apps import AppConfig


class SessionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions"
    label = "charging_sessions"  # "sessions" is taken by django.contrib.sessions
    verbose_name = "Charging sessions"

    def ready(self) -> None:
        # Outbox module "sessions": who receives an object and how it is sent (sessions/push.py).
        from partners.outbox import register_module

        from . import push

        register_module("sessions", audience=push.sessions_audience, push=push.session_push)
