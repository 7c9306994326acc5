from django.apps import AppConfig


class CdrsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cdrs"
    verbose_name = "CDRs"

    def ready(self) -> None:
        # Outbox module "cdrs": who receives an object and how it is sent (cdrs/push.py); pull: how a
        # partner's served objects are stored (cdrs/pull.py).
        from partners.outbox import register_module
        from partners.pull_registry import register_pull

        from . import pull, push

        register_module("cdrs", audience=push.cdrs_audience, push=push.cdr_push)
        register_pull("cdrs", store=pull.cdr_store_pulled, refusals=pull.REFUSALS)

        # OCPI 2.1.1/2.3.0 converters of this module's objects (ocpi_platform/ocpi/wire.py).
        from . import wire

        wire.register_wire()
