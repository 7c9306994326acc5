from django.apps import AppConfig


class CdrsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cdrs"
    verbose_name = "CDRs"

    def ready(self) -> None:
        # Outbox module "cdrs": who receives an object and how it is sent (cdrs/push.py).
        from partners.outbox import register_module

        from . import push

        register_module("cdrs", audience=push.cdrs_audience, push=push.cdr_push)
