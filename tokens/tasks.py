from celery import shared_task

from . import services


@shared_task(ignore_result=True)
def token_expire_due() -> int:
    """Beat: our tokens whose expiry has come become invalid (valid=false pushed to every CPO)."""
    return services.token_expire_due()
