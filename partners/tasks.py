from celery import shared_task


@shared_task
def message_log_purge() -> int:
    """Beat: keep the message log within OCPI_MESSAGE_LOG_RETENTION_DAYS."""
    from .services import message_log_purge as purge

    return purge()
