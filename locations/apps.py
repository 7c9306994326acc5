from django.apps import AppConfig


class LocationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "locations"

    def ready(self) -> None:
        # Outbox module "locations": who receives an object and how it is sent (locations/push.py); pull: how a
        # partner's served objects are stored (locations/pull.py).
        from partners.outbox import register_module
        from partners.pull_registry import register_pull

        from . import documents, pull, push, wire  # noqa: F401  # documents: its signal receivers

        wire.register_wire()  # converters for 2.1.1 and 2.3.0 partners (ocpi_platform/ocpi/wire.py)

        register_module(
            "locations", audience=push.locations_audience, push=push.location_push, snapshot=push.locations_snapshot
        )
        register_pull(
            "locations",
            store=pull.location_store_pulled,
            refusals=pull.REFUSALS,
            remove_unseen=pull.locations_remove_unseen,
        )
