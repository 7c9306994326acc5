"""Celery tasks of commands and charging profiles: run a request through the charge point gateway, then POST
its asynchronous result to the partner's response_url (retried with backoff on transient errors only).

Beat (settings.CELERY_BEAT_SCHEDULE): "sessions.tasks.command_expire_overdue" every 30 s marks commands we
sent without a CommandResult in time as TIMEOUT; "sessions.tasks.reservation_expire_due" every 30 s ends the
reservations whose expiry_date has passed.
"""

from __future__ import annotations

from celery import shared_task

from ocpi_platform.ocpi.client import OcpiTransientError

from . import chargingprofiles, reservations
from .commands import receiver, results, sender

_RETRY = {
    "autoretry_for": (OcpiTransientError,),  # timeouts, HTTP 429/5xx, OCPI 3000
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
    "ignore_result": True,
}


@shared_task(acks_late=True, ignore_result=True)
def command_execute(*, command_id: int) -> str:
    """Send one accepted command to the charge point and record its CommandResult (never retried: the result
    of a second attempt could contradict the first)."""
    return receiver.command_execute(command_id=command_id)


@shared_task(**_RETRY)
def command_post_result(*, command_id: int) -> str:
    return results.command_post_result(command_id=command_id)


@shared_task(ignore_result=True)
def command_expire_overdue() -> int:
    """Beat: commands we sent whose CommandResult is overdue become TIMEOUT."""
    return sender.command_expire_overdue()


@shared_task(ignore_result=True)
def reservation_expire_due() -> int:
    """Beat: reservations whose expiry_date has passed become EXPIRED, their RESERVATION sessions COMPLETED."""
    return reservations.reservation_expire_due()


@shared_task(acks_late=True, ignore_result=True)
def charging_profile_execute(*, request_id: int) -> str:
    return chargingprofiles.charging_profile_execute(request_id=request_id)


@shared_task(**_RETRY)
def charging_profile_post_result(*, request_id: int) -> str:
    return chargingprofiles.charging_profile_post_result(request_id=request_id)
