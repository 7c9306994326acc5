from django.apps import AppConfig


class TokensConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tokens"

    def ready(self) -> None:
        # Outbox module "tokens": who receives an object and how it is sent (tokens/push.py).
        from partners.outbox import register_module

        from . import push

        register_module("tokens", audience=push.tokens_audience, push=push.token_push, snapshot=push.tokens_snapshot)

        # OCPI 2.1.1/2.3.0 converters of this module's objects (ocpi_platform/ocpi/wire.py).
        from . import wire

        wire.register_wire()
