"""Fault 3: Redis flushed (FLUSHDB of the broker's database) mid-run: the outbox re-queues, nothing is lost.

300 new Locations are committed at once (300 tasks in Redis) for one eMSP whose Receiver answers after 50 ms.
When about 40 have arrived, the broker database is flushed: the queued tasks (and the worker's unacknowledged
ones) are gone while their deliveries stay pending in PostgreSQL. 30 more Locations are created after the
flush (their tasks are queued normally). The outbox sends through one drain task per partner that loops until none
of the partner's rows is due (partners/outbox/drain.py): a drain running during the flush goes on, and the drain
queued by the 30 later changes sends the flushed rows too, so usually none is left for the beat; whatever is
(a drain lost while queued, with nothing queued after it) is re-queued by the beat's outbox_requeue_due (run from
the test process every second, requeue grace 3 s; tests/outbox/test_drain.py shows a lost drain recovered by
it). In the end every delivery is DELIVERED and the partner holds all 330 Locations.

Time bound: 180 s (pytest-timeout); about 30-40 s on a 2-core machine.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.db import transaction

from locations.api.serializers import location_to_ocpi
from locations.models import Location
from ocpi_platform.ocpi.renderers import dumps
from partners.models import OutboxDelivery, OutboxState
from tests.outbox.conftest import partner_for
from tests.system.faults.conftest import make_sites, settle, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BEFORE, AFTER = 300, 30


def pending() -> int:
    return OutboxDelivery.objects.filter(state=OutboxState.PENDING).count()


def stable_pending(quiet: float, timeout: float) -> int:
    """The number of pending deliveries once it has not changed for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    count, since = pending(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = pending()
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return count
    raise AssertionError(f"pending deliveries never settled without the beat (last count {count})")


@pytest.mark.timeout(180)
def test_redis_flushed_mid_run_outbox_requeues_and_delivers_all(
    start_worker: Any, partner_rx: Any, flush_redis: Any
) -> None:
    partner_rx.delay = 0.05
    worker = start_worker(OCPI_OUTBOX_REQUEUE_GRACE_SECONDS=3.0)
    partner_for(partner_rx, modules=("locations",), timeout_seconds=1.0)
    with transaction.atomic():
        make_sites(BEFORE, evses=1, prefix="F-")
    wait_until(lambda: len(partner_rx.ok()) >= 40, 60, f"the first deliveries\n{worker.log()}")

    flush_redis()
    with transaction.atomic():
        make_sites(AFTER, evses=1, prefix="G-")
    wait_until(
        lambda: {f"G-{i:04d}" for i in range(AFTER)} <= set(partner_rx.copy().locations),
        60,
        f"the deliveries queued after the flush\n{worker.log()}",
    )
    stuck = stable_pending(quiet=3.0, timeout=30)  # drains the worker held in memory may still run meanwhile

    waited = settle(120, beat_every=1.0, worker=worker)
    print(f"{stuck} deliveries left for the beat after the flush; settled {waited:.1f}s after the beat started")  # noqa: T201

    assert OutboxDelivery.objects.count() == BEFORE + AFTER
    assert set(OutboxDelivery.objects.values_list("state", flat=True)) == {OutboxState.DELIVERED}
    wait_until(lambda: len(partner_rx.copy().locations) == BEFORE + AFTER, 5, "the last answers to be recorded")
    held = partner_rx.copy().locations
    for location in Location.objects.prefetch_related("evses__connectors"):
        assert held[location.ocpi_id] == json.loads(dumps(location_to_ocpi(location))), location.ocpi_id
