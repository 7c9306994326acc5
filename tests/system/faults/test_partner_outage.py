"""Fault 1: an eMSP that fails in every way while our network keeps changing gets exactly our state afterwards.

The partner (locations, sessions and cdrs Receivers on loopback) answers HTTP 500, then refuses connections,
then lets every request hang past its timeout (1 s), then answers 429 with Retry-After: 3, each phase at least
3 s (production outages are longer; the outbox settings are shortened to match: backoff 0.25 s .. 2 s, see
tests/system/faults/conftest.py FAULT_SETTINGS). Meanwhile 200 EVSE status changes and 50 complete sessions (start,
meter values, stop, CDR) happen through the services, a quarter in each phase. Then it recovers, and:

* it holds exactly our state: every Location (every EVSE's status) and every Session equals ours;
* received in order: per object (Location, EVSE, Session, CDR) the last_updated of the requests that arrived
  never goes backwards;
* exactly 50 CDRs, 50 distinct ids, none accepted twice;
* no request arrived after a 429 before its Retry-After moment (requests already in flight when the 429 was
  answered, i.e. arriving within 1 s of it, excepted).

Real PostgreSQL, Redis and Celery worker (tests/worker.py). Run:
    REDIS_URL=redis://127.0.0.1:6379/9 DATABASE_URL=postgres://postgres@127.0.0.1:5432/ocpi_helper_fault \
    .venv/bin/pytest tests/system/faults -m worker
Time bound: 300 s (pytest-timeout); about 40-60 s on a 2-core machine.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from typing import Any

import pytest

from cdrs.models import Cdr
from locations.api.serializers import location_to_ocpi
from locations.models import EVSE, Location
from locations.services import evse_set_status
from ocpi_platform.ocpi.renderers import dumps
from partners.models import OutboxDelivery, OutboxState
from sessions.api.serializers import session_to_ocpi
from sessions.models import ChargingSession
from tests.system.faults.conftest import complete_session, emsp_partner_on, make_sites, settle

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

STATUS_CHANGES = 200
SESSIONS = 50
SITES = 10
PHASES = ("500", "refused", "timeout", "429")
PHASE_MIN_SECONDS = 3.0
RETRY_AFTER = 3
IN_FLIGHT_GRACE = 1.0
STATUSES = ("AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "RESERVED", "UNKNOWN")


def as_sent(document: dict[str, Any]) -> Any:
    """An OCPI document as the partner decodes it from our request body."""
    return json.loads(dumps(document))


@pytest.mark.timeout(300)
def _wait_for_phase_traffic(partner_rx: Any, name: str, first: int, bound: float = 40.0) -> None:
    """Keep a phase until the partner has really shown it once: the circuit breaker's backoff can otherwise
    let a short phase pass with no request at all (a refused connection leaves no trace, so it is not awaited)."""
    if name == "refused":
        return
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        seen = partner_rx.requests[first:]
        if name == "timeout" and any(r.hung for r in seen):
            return
        if name in ("500", "429") and any(r.answered == int(name) and not r.hung for r in seen):
            return
        time.sleep(0.1)


def test_partner_failing_every_way_ends_with_our_state_in_order(start_worker: Any, partner_rx: Any) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    worker = start_worker()
    partner = emsp_partner_on(partner_rx, timeout_seconds=1.0)
    sites = make_sites(SITES, evses=2)
    settle(60, worker=worker)  # the partner holds the sites (PUT) before the trouble starts
    assert len(partner_rx.copy().locations) == SITES

    session_evses = [EVSE.objects.get(uid=f"{site.ocpi_id}-E1") for site in sites]
    status_evses = [EVSE.objects.get(uid=f"{site.ocpi_id}-E2") for site in sites]
    operations = ["status"] * STATUS_CHANGES + ["session"] * SESSIONS
    rng.shuffle(operations)
    per_phase = len(operations) // len(PHASES)

    started = time.monotonic()
    phase_started = started
    phase_log: list[tuple[str, float]] = []
    sessions_done = 0
    name = ""
    phase_first_request = 0
    for index, operation in enumerate(operations):
        if index % per_phase == 0 and index // per_phase < len(PHASES):
            if index:
                time.sleep(max(0.0, PHASE_MIN_SECONDS - (time.monotonic() - phase_started)))
                _wait_for_phase_traffic(partner_rx, name, phase_first_request)
            name = PHASES[index // per_phase]
            phase_first_request = len(partner_rx.requests)
            partner_rx.phase(name, retry_after=RETRY_AFTER)
            phase_started = time.monotonic()
            phase_log.append((name, round(phase_started - started, 2)))
        if operation == "status":
            evse = rng.choice(status_evses)
            evse.refresh_from_db()
            evse_set_status(evse=evse, status=rng.choice([s for s in STATUSES if s != evse.status]))
        else:
            evse = session_evses[sessions_done % SITES]
            evse.refresh_from_db()
            complete_session(evse=evse, partner=partner, number=sessions_done)
            sessions_done += 1
    time.sleep(max(0.0, PHASE_MIN_SECONDS - (time.monotonic() - phase_started)))
    _wait_for_phase_traffic(partner_rx, name, phase_first_request)
    partner_rx.phase("ok")
    recovered_at = time.monotonic()
    waited = settle(120, worker=worker)
    print(  # noqa: T201 - the timeline, shown with -s or on failure
        f"seed={seed} phases={phase_log} recovered at {recovered_at - started:.1f}s, settled {waited:.1f}s later; "
        f"{len(partner_rx.requests)} requests, {len(partner_rx.applied())} applied, answers "
        f"{Counter('hung' if r.hung else r.answered for r in partner_rx.requests)}, 429 at "
        f"{[round(r.at - started, 2) for r in partner_rx.requests if r.answered == 429 and not r.hung]}, "
        f"arrivals {[round(r.at - started, 2) for r in partner_rx.requests]}"
    )

    # Every phase happened: the partner answered 500 and 429, and requests hung until the client gave up.
    answered = {r.answered for r in partner_rx.requests if not r.hung}
    assert {500, 429} <= answered
    assert any(r.hung for r in partner_rx.requests)
    assert not OutboxDelivery.objects.exclude(
        state__in=[OutboxState.DELIVERED, OutboxState.SKIPPED, OutboxState.SUPERSEDED]
    ).exists()

    held = partner_rx.copy()
    # Exactly our state: every EVSE's status, then every whole Location and Session document.
    ours_status = dict(EVSE.objects.values_list("uid", "status"))
    theirs_status = {e["uid"]: e["status"] for loc in held.locations.values() for e in loc.get("evses", [])}
    assert theirs_status == ours_status
    for location in Location.objects.prefetch_related("evses__connectors"):
        assert held.locations[location.ocpi_id] == as_sent(location_to_ocpi(location)), location.ocpi_id
    ours_sessions = {s.ocpi_id: as_sent(session_to_ocpi(s)) for s in ChargingSession.objects.all()}
    assert len(ours_sessions) == SESSIONS
    assert {sid: held.sessions.get(sid) for sid in ours_sessions} == ours_sessions
    assert {s["status"] for s in held.sessions.values()} == {"COMPLETED"}

    # Exactly 50 CDRs: 50 distinct ids, each accepted once.
    cdr_ids = [cdr["id"] for cdr in held.cdrs]
    assert len(cdr_ids) == SESSIONS
    assert sorted(cdr_ids) == sorted(Cdr.objects.values_list("ocpi_id", flat=True))

    # In order, and never before Retry-After.
    assert partner_rx.backwards() == {}
    assert partner_rx.early_after_429(RETRY_AFTER, IN_FLIGHT_GRACE) == []
    assert held.ignored == []
