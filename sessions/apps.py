from django.apps import AppConfig


class SessionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "sessions"
    label = "charging_sessions"  # "sessions" is taken by django.contrib.sessions
    verbose_name = "Charging sessions"

    def ready(self) -> None:
        # Outbox module "sessions": who receives an object and how it is sent (sessions/push.py); pull: how a
        # partner's served objects are stored (sessions/pull.py).
        from partners.outbox import register_module
        from partners.pull_registry import register_pull

        from . import pull, push

        register_module("sessions", audience=push.sessions_audience, push=push.session_push, pace=push.session_pace)
        register_pull("sessions", store=pull.session_store_pulled, refusals=pull.REFUSALS)

        # OCPI 2.1.1/2.3.0 converters of this module's objects (ocpi_platform/ocpi/wire.py).
        from . import wire

        wire.register_wire()
