"""The outbox with a REAL Celery worker (tests/worker.py): Redis broker, shared PostgreSQL test database.

Run: REDIS_URL=redis://127.0.0.1:6379/5 DATABASE_URL=postgres://postgres@127.0.0.1:5432/ocpi_helper_out \
     .venv/bin/pytest tests/outbox -m worker
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from locations.models import EVSE
from locations.services import evse_set_status, location_create
from partners.models import OutboxDelivery, OutboxState
from partners.tasks import outbox_requeue_due
from tests.outbox.conftest import location_data, partner_for

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def delivered(object_id: int) -> bool:
    rows = OutboxDelivery.objects.filter(object_id=object_id)
    return rows.exists() and not rows.exclude(state=OutboxState.DELIVERED).exists()


def test_worker_delivers_put_then_patch(celery_worker, receiver) -> None:
    partner_for(receiver)
    location = location_create(data=location_data())  # commits: the task goes to Redis, the worker sends
    wait_until(lambda: receiver.ok("PUT"), what=f"the PUT\n{celery_worker.log()}")
    wait_until(lambda: delivered(location.pk), what="the delivery to be recorded")

    evse_set_status(evse=EVSE.objects.get(location=location), status="CHARGING")
    wait_until(lambda: receiver.ok("PATCH"), what=f"the PATCH\n{celery_worker.log()}")
    assert receiver.ok("PATCH")[0].body["status"] == "CHARGING"
    assert receiver.ok("PATCH")[0].path.endswith("/NL/EXA/LOC1/EVSE1")


def test_worker_killed_mid_delivery_loses_nothing(celery_worker, receiver) -> None:
    partner_for(receiver, timeout_seconds=2.0)
    receiver.hang()
    first = location_create(data=location_data("LOC1", evses=("EVSE1",)))
    wait_until(lambda: receiver.requests, what=f"the first PUT to arrive\n{celery_worker.log()}")
    celery_worker.kill()  # SIGKILL while the request hangs: no ack, no result, the lease stays taken
    receiver.heal()

    # Changes while no worker runs: one merges into the leased delivery, one is a new delivery in Redis.
    evse_set_status(evse=EVSE.objects.get(location=first), status="CHARGING")
    second = location_create(data=location_data("LOC2", evses=("EVSE2",)))

    celery_worker.start()
    wait_until(lambda: delivered(second.pk), what=f"LOC2 after the restart\n{celery_worker.log()}")
    leased = OutboxDelivery.objects.get(object_id=first.pk)
    assert leased.state == OutboxState.PENDING
    wait_until(lambda: leased.__class__.objects.get(pk=leased.pk).claimed_until < timezone.now(), timeout=40)
    outbox_requeue_due.delay()  # what the beat sends every 30 s
    wait_until(lambda: delivered(first.pk), what=f"LOC1 after the beat requeue\n{celery_worker.log()}")

    loc1 = [r for r in receiver.ok("PUT") if r.path.endswith("/LOC1")]
    assert loc1[-1].body["evses"][0]["status"] == "CHARGING"  # the newest state, not the one that hung
    assert not OutboxDelivery.objects.exclude(state=OutboxState.DELIVERED).exists()
