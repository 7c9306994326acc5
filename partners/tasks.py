import logging
import random

from celery import shared_task

from ocpi_platform.ocpi.client import OcpiTransientError
from ocpi_platform.ocpi.headers import PartyRef

from . import services, sync
from .models import Partner
from .outbox import drain, initial_sync
from .outbox import services as outbox

logger = logging.getLogger(__name__)


@shared_task
def message_log_purge() -> int:
    """Beat: keep the message log within OCPI_MESSAGE_LOG_RETENTION_DAYS."""
    return services.message_log_purge()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def outbox_deliver(*, delivery_id: int) -> str:
    """Send one outbox delivery; retries are scheduled by the outbox itself (countdown or beat), not Celery."""
    return outbox.outbox_deliver(delivery_id=delivery_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def outbox_wake_party(*, partner_id: int, country_code: str, party_id: str) -> int:
    """A Hub reports a party CONNECTED again (partners.hubclientinfo.client_info_store): release the deliveries
    that waited for it. Safe to run twice: a released delivery no longer waits."""
    party = PartyRef.of(country_code, party_id)
    woken = outbox.outbox_wake_party(partner_id=partner_id, party=party)
    if woken:
        logger.info("Hub %s: %s is CONNECTED again, released %s waiting deliveries", partner_id, party, woken)
    return woken


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def partner_initial_sync(*, partner_id: int, modules: list[str] | None = None) -> dict[str, int]:
    """Queue the initial sync of a partner that just connected (registration, new Receiver endpoints, staff).

    Safe to run twice: open deliveries coalesce.
    """
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None:
        return {}
    return initial_sync.partner_initial_sync(partner=partner, modules=modules)


@shared_task(ignore_result=True)
def outbox_requeue_due(*, grace_seconds: float | None = None) -> int:
    """Beat: re-queue due deliveries whose task was lost (broker flushed, worker killed); the in-process beat
    of `make run` passes grace_seconds=0 (ocpi_platform/inprocess_beat.py)."""
    return outbox.outbox_requeue_due(grace_seconds=grace_seconds)


# --- Pull synchronisation (partners/sync.py) --------------------------------------------------------


@shared_task(
    autoretry_for=(OcpiTransientError,),  # timeouts, HTTP 429/5xx, OCPI 3000: the retry resumes the crawl
    retry_backoff=30,
    retry_backoff_max=1800,
    retry_jitter=True,
    max_retries=6,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=1800,
    time_limit=1900,
)
def partner_pull(partner_id: int, module: str, full: bool = False) -> dict:
    """Pull one module's Sender list from a partner (resumable; a transient failure is retried)."""
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None or not partner.is_registered:
        return {"partner_id": partner_id, "module": module, "skipped": "partner not registered"}
    report = sync.pull(partner=partner, module=module, full=full)
    if report.error and report.transient:
        raise OcpiTransientError(report.error)
    return report.as_dict()


@shared_task(ignore_result=True)
def partner_pull_due() -> int:
    """Beat: queue the periodic DELTA pulls whose interval (PullState.interval_minutes) has elapsed,
    spread over a minute (pull at low frequency with random splay, transport.md 3)."""
    due = sync.pull_due()
    for partner_id, module in due:
        partner_pull.apply_async(
            kwargs={"partner_id": partner_id, "module": module, "full": False}, countdown=random.uniform(0, 60)
        )
    return len(due)


@shared_task
def outbox_purge_finished() -> int:
    """Beat: keep finished outbox deliveries within OCPI_OUTBOX_RETENTION_DAYS."""
    return outbox.outbox_purge_finished()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def outbox_drain(*, partner_id: int) -> dict:
    """Send a partner's due deliveries in order over one connection (partners/outbox/drain.py); at most one runs
    per partner, a second one returns at once."""
    return drain.outbox_drain(partner_id=partner_id)
