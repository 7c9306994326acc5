from celery import shared_task


@shared_task(ignore_result=True)
def token_expire_due() -> int:
    """Beat: our tokens whose expiry has come become invalid (valid=false pushed to every CPO)."""
    from .services import token_expire_due as expire

    return expire()
