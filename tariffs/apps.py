from django.apps import AppConfig


class TariffsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tariffs"

    def ready(self) -> None:
        # Outbox module "tariffs": who receives an object and how it is sent (tariffs/push.py); pull: how a
        # partner's served objects are stored (tariffs/pull.py).
        from partners.outbox import register_module
        from partners.pull_registry import register_pull

        from . import pull, push, wire

        wire.register_wire()  # converters for 2.1.1 and 2.3.0 partners (ocpi_platform/ocpi/wire.py)

        register_module(
            "tariffs", audience=push.tariffs_audience, push=push.tariff_push, snapshot=push.tariffs_snapshot
        )
        register_pull(
            "tariffs", store=pull.tariff_store_pulled, refusals=pull.REFUSALS, remove_unseen=pull.tariffs_remove_unseen
        )
