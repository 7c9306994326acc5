from django.apps import AppConfig


class LocationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "locations"

    def ready(self) -> None:
        # Outbox module "locations": who receives an object and how it is sent (locations/push.py).
        from partners.outbox import register_module

        from . import push

        register_module(
            "locations", audience=push.locations_audience, push=push.location_push, snapshot=push.locations_snapshot
        )
