"""Fault 5: one partner down and another slow do not delay a healthy partner's deliveries.

Three eMSPs receive our Locations: A hangs every request until its timeout (2 s), C refuses connections, B is
healthy. 30 EVSE status changes are made, one every 0.25 s, while A and C keep failing. B must receive each
change (a request carrying that EVSE's state at least as new) within LATENCY_BOUND seconds of its commit; A and
C's deliveries stay pending (blocked, probed one at a time). The worker runs 2 processes and every partner may
have 1 send in flight (OCPI_OUTBOX_PARTNER_CONCURRENCY=1, less than the worker's concurrency, as in
production): a hanging partner can hold at most one process, never the whole pool.

Time bound: 120 s (pytest-timeout); about 20 s on a 2-core machine.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from django.utils import timezone

from locations.models import EVSE
from locations.services import evse_set_status
from ocpi_platform.ocpi.envelope import format_datetime
from partners.models import OutboxDelivery, OutboxState
from tests.outbox.conftest import partner_for
from tests.system.faults.conftest import make_sites, settle
from tests.system.faults.receiver import ts

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

CHANGES = 30
EVERY = 0.25
LATENCY_BOUND = 1.5
STATUSES = ("AVAILABLE", "BLOCKED", "CHARGING", "OUTOFORDER", "RESERVED")


def arrival_of(receiver: Any, evse_uid: str, last_updated: Any) -> float | None:
    """When `receiver` first got a request carrying the EVSE's state as of `last_updated` (or newer).

    Compared as sent: OCPI DateTimes go out with at most milliseconds (format_datetime truncates)."""
    last_updated = ts(format_datetime(last_updated))
    for request in receiver.ok():
        body = request.body or {}
        if request.path.endswith(f"/{evse_uid}") and ts(body["last_updated"]) >= last_updated:
            return request.at
        for evse in body.get("evses") or []:
            if evse["uid"] == evse_uid and ts(evse["last_updated"]) >= last_updated:
                return request.at
    return None


@pytest.mark.timeout(120)
def test_down_and_slow_partners_do_not_delay_a_healthy_one(
    start_worker: Any, partner_rx: Any, other_rx: Any, third_rx: Any
) -> None:
    slow, healthy, down = partner_rx, other_rx, third_rx
    worker = start_worker(OCPI_OUTBOX_PARTNER_CONCURRENCY=1)
    partner_for(slow, name="A slow", party=("DE", "AAA"), modules=("locations",), timeout_seconds=2.0)
    partner_for(healthy, name="B healthy", party=("DE", "BBB"), modules=("locations",), timeout_seconds=2.0)
    partner_for(down, name="C down", party=("DE", "CCC"), modules=("locations",), timeout_seconds=2.0)
    make_sites(3, evses=2)
    settle(30, worker=worker)

    slow.phase("timeout")
    down.phase("refused")
    evses = list(EVSE.objects.order_by("pk"))
    rng = random.Random(CHANGES)
    changes: list[tuple[str, Any, float]] = []
    for _ in range(CHANGES):
        evse = rng.choice(evses)
        evse.refresh_from_db()
        evse = evse_set_status(evse=evse, status=rng.choice([s for s in STATUSES if s != evse.status]))
        changes.append((evse.uid, evse.last_updated, time.monotonic()))
        time.sleep(EVERY)
    time.sleep(LATENCY_BOUND)

    latencies = []
    for uid, last_updated, committed in changes:
        arrived = arrival_of(healthy, uid, last_updated)
        latencies.append(round(arrived - committed, 3) if arrived is not None else None)
    print(f"healthy partner's latencies: {latencies}")  # noqa: T201 - shown with -s or on failure
    assert None not in latencies, f"changes not delivered to the healthy partner: {latencies}\n{worker.log()}"
    assert max(latencies) <= LATENCY_BOUND, latencies
    # The failing partners were really failing all along (and are still owed their updates).
    assert any(r.hung for r in slow.requests)
    pending = OutboxDelivery.objects.filter(state=OutboxState.PENDING)
    assert pending.filter(partner__name="A slow").exists()
    assert pending.filter(partner__name="C down").exists()
    assert not pending.filter(partner__name="B healthy", next_attempt_at__lt=timezone.now()).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(60)
def test_a_failing_partner_is_probed_by_one_delivery_at_a_time(partner_rx: Any, mocker: Any) -> None:
    """The outbox's own guarantee ("probed by one delivery at a time"), timed deterministically with threads
    calling the task body (no broker): the slow partner's timeout is 2 s, backoff 0.25 s .. 0.5 s here.

    t=0.0 d1 sent (hangs) | t=1.0 d2 sent (hangs; nothing has failed yet, concurrency 2) | t~2.0 d1 times out:
    blocked <= 2.3 s | t=2.6 d3 is the probe: it locks the partner for its lease (until t=10.6) | t~3.0 d2 times
    out | t=3.9 d1 is due again while the probe is still in flight (until t~4.6): it must be deferred, not sent.
    """
    from django.db import connection

    from partners.outbox import outbox_deliver

    if connection.vendor != "postgresql":
        pytest.skip("threads share the test database only on PostgreSQL")
    mocker.patch("partners.outbox.services._schedule")  # no broker, no inline run: the test plays the worker
    partner_for(partner_rx, name="A slow", modules=("locations",), timeout_seconds=2.0)
    make_sites(3, evses=1)
    d1, d2, d3 = OutboxDelivery.objects.order_by("pk").values_list("pk", flat=True)
    partner_rx.phase("timeout")

    results: dict[str, str] = {}
    started = time.monotonic()

    def deliver(label: str, delivery_id: int, at: float) -> threading.Thread:
        def run() -> None:
            time.sleep(max(0.0, at - (time.monotonic() - started)))
            try:
                results[label] = outbox_deliver(delivery_id=delivery_id)
            finally:
                connection.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    threads = [
        deliver("d1", d1, 0.0),
        deliver("d2", d2, 1.0),
        deliver("d3 probe", d3, 2.6),
        deliver("d1 again", d1, 3.9),
    ]
    for thread in threads:
        thread.join(timeout=20)
    arrivals = [round(r.at - started, 2) for r in partner_rx.requests]

    assert results["d3 probe"] == "retry", results  # the probe was sent and timed out
    assert results["d1 again"] == "deferred", (results, arrivals)
    assert len(arrivals) == 3, arrivals
