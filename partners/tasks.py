from celery import shared_task


@shared_task
def message_log_purge() -> int:
    """Beat: keep the message log within OCPI_MESSAGE_LOG_RETENTION_DAYS."""
    from .services import message_log_purge as purge

    return purge()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def outbox_deliver(*, delivery_id: int) -> str:
    """Send one outbox delivery; retries are scheduled by the outbox itself (countdown or beat), not Celery."""
    from .outbox.services import outbox_deliver as deliver  # local import: the outbox imports this module

    return deliver(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def outbox_requeue_due() -> int:
    """Beat: re-queue due deliveries whose task was lost (broker flushed, worker killed)."""
    from .outbox.services import outbox_requeue_due as requeue

    return requeue()
