from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_parties(sender, **kwargs) -> None:
    """Configuration bootstrap (not domain flow): the parties named in OCPI_PARTIES exist after migrate."""
    from .services import parties_sync_from_settings

    parties_sync_from_settings()


class PartnersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "partners"

    def ready(self) -> None:
        post_migrate.connect(_sync_parties, sender=self)
        from . import caches, wire  # noqa: F401  # caches: its signal receivers

        wire.register_wire()  # Credentials in OCPI 2.1.1 and 2.3.0
