"""Fault 2: the Celery worker SIGKILLed ten times at random moments during 500 deliveries loses nothing.

500 new Locations of our CPO (one delivery each) go to one eMSP whose Receiver answers after 50 ms. The worker
(prefork, 2 processes) is killed with SIGKILL (the whole process group: tasks in flight die unacknowledged,
with their lease taken and their prefetched/ETA messages stuck in Redis) at a random moment 0.3-1.5 s after it
became ready, ten times; while it is dead more Locations are created; then it is restarted. The beat's
outbox_requeue_due runs from the test process every second (requeue grace 3 s, lease 3 x 1 s + 2 s).
Afterwards every delivery is DELIVERED and the partner holds all 500 Locations exactly as we do (a request
that was cut off may arrive twice: at-least-once, the duplicate carries the same state).

Time bound: 300 s (pytest-timeout); about 60-90 s on a 2-core machine (ten worker start-ups).
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from locations.api.serializers import location_to_ocpi
from locations.models import Location
from ocpi_platform.ocpi.renderers import dumps
from partners.models import OutboxDelivery, OutboxState
from tests.outbox.conftest import partner_for
from tests.system.faults.conftest import make_sites, settle, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DELIVERIES = 500
KILLS = 10
FIRST_BATCH = 140
BATCH = (DELIVERIES - FIRST_BATCH) // KILLS


def create_batch(number: int, size: int) -> None:
    with transaction.atomic():  # one commit: `size` tasks reach Redis together
        make_sites(size, evses=1, prefix=f"K{number:02d}-")


@pytest.mark.timeout(300)
def test_worker_killed_ten_times_during_500_deliveries_delivers_all(start_worker: Any, partner_rx: Any) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    partner_rx.delay = 0.05
    worker = start_worker(OCPI_OUTBOX_REQUEUE_GRACE_SECONDS=3.0)
    partner_for(partner_rx, modules=("locations",), timeout_seconds=1.0)
    create_batch(0, FIRST_BATCH)

    at_kill: list[tuple[int, int]] = []  # (pending, leased) when the worker died
    for kill in range(1, KILLS + 1):
        time.sleep(rng.uniform(0.3, 1.5))
        worker.kill()
        pending = OutboxDelivery.objects.filter(state=OutboxState.PENDING)
        at_kill.append((pending.count(), pending.filter(claimed_until__gt=timezone.now()).count()))
        create_batch(kill, BATCH)
        worker.start()

    waited = settle(180, beat_every=1.0, worker=worker)
    arrivals = Counter(r.path for r in partner_rx.ok("PUT"))
    print(  # noqa: T201 - shown with -s or on failure
        f"seed={seed} (pending, leased) at each kill: {at_kill}; settled {waited:.1f}s after the last restart; "
        f"{sum(arrivals.values())} PUTs for {len(arrivals)} locations"
    )

    assert all(pending for pending, _ in at_kill), "every kill must happen while deliveries are pending"
    assert any(leased for _, leased in at_kill), "some kill must cut a delivery in flight"
    assert OutboxDelivery.objects.count() == DELIVERIES
    assert set(OutboxDelivery.objects.values_list("state", flat=True)) == {OutboxState.DELIVERED}
    wait_until(lambda: len(partner_rx.copy().locations) == DELIVERIES, 5, "the last answers to be recorded")
    held = partner_rx.copy().locations
    for location in Location.objects.prefetch_related("evses__connectors"):
        assert held[location.ocpi_id] == json.loads(dumps(location_to_ocpi(location))), location.ocpi_id
