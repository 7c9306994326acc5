from django.apps import AppConfig


class TariffsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tariffs"

    def ready(self) -> None:
        # Outbox module "tariffs": who receives an object and how it is sent (tariffs/push.py).
        from partners.outbox import register_module

        from . import push

        register_module(
            "tariffs", audience=push.tariffs_audience, push=push.tariff_push, snapshot=push.tariffs_snapshot
        )
