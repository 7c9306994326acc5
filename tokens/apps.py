from django.apps import AppConfig


class TokensConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tokens"

    def ready(self) -> None:
        # Register the "tokens" outbox module (audience: CPO partners with a Tokens Receiver).
        from . import outbox_hooks  # noqa: F401
