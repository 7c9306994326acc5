"""A partner's drain (partners/outbox/drain.py): one task sends the partner's due deliveries in order, claims and
finishes in bulk, handles failures per row, holds the partner's lane, and is recovered by the beat."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection

from locations.models import EVSE, Location
from locations.services import evse_set_status
from partners.models import OutboxDelivery, OutboxPartnerState, OutboxState
from partners.outbox import (
    PushResult,
    get_module,
    outbox_enqueue,
    outbox_requeue_due,
    register_module,
    unregister_module,
)
from partners.outbox import services as outbox_services
from partners.outbox.drain import DRAIN_LOCK_CLASS, outbox_drain
from tests.outbox.conftest import location_data, partner_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def drains(mocker: Any) -> list[tuple[int, float]]:
    """The drains the outbox queues (partner id, countdown); none runs by itself: the test runs them."""
    queued: list[tuple[int, float]] = []
    mocker.patch(
        "partners.outbox.services.schedule_drain",
        side_effect=lambda partner_id, countdown=0, **kw: queued.append((partner_id, countdown)),
    )
    return queued


def make_locations(capture: Any, n: int) -> list[Location]:
    from locations.services import location_create

    with capture(execute=True):
        return [location_create(data=location_data(ocpi_id=f"LOC{i}", evses=(f"EVSE{i}",))) for i in range(n)]


def set_status(capture: Any, location: Location, status: str) -> EVSE:
    evse = EVSE.objects.get(location=location)
    with capture(execute=True):
        return evse_set_status(evse=evse, status=status)


def statuses(receiver: Any, location: Location) -> list[str]:
    """The EVSE statuses the partner received for `location`, in arrival order (PUTs and PATCHes)."""
    out = []
    for request in receiver.ok():
        if f"/{location.ocpi_id}" not in request.path:
            continue
        body = request.body
        out.append(body["evses"][0]["status"] if "evses" in body else body["status"])
    return out


def test_drain_sends_every_due_delivery_in_order_and_finishes_them_in_bulk(
    receiver, clock, drains, django_capture_on_commit_callbacks, django_assert_max_num_queries
) -> None:
    partner = partner_for(receiver)
    locations = make_locations(django_capture_on_commit_callbacks, 3)
    assert {pid for pid, _ in drains} == {partner.pk}  # the changes queued drains, not a task per delivery
    report = outbox_drain(partner_id=partner.pk)
    assert report["sent"] == 3 and report["finished"] == 3 and report["outcome"] == "idle"
    assert [r.path.rsplit("/", 1)[1] for r in receiver.ok("PUT")] == ["LOC0", "LOC1", "LOC2"]  # oldest first
    assert set(partner.outbox_deliveries.values_list("state", flat=True)) == {OutboxState.DELIVERED}
    # Steady state: a PATCH each. Per send: the sync row's update, the push's own reads (location, EVSEs,
    # connectors, the Hub party check) and its message log row; the claim, the finish, the partner's state once.
    for location in locations:
        set_status(django_capture_on_commit_callbacks, location, "CHARGING")
    with django_assert_max_num_queries(40):
        assert outbox_drain(partner_id=partner.pk)["sent"] == 3
    assert [r.method for r in receiver.ok()[3:]] == ["PATCH"] * 3
    assert outbox_drain(partner_id=partner.pk)["sent"] == 0  # nothing left


def test_drain_coalesces_changes_made_before_it_runs(receiver, clock, drains, django_capture_on_commit_callbacks):
    partner = partner_for(receiver)
    (location,) = make_locations(django_capture_on_commit_callbacks, 1)
    outbox_drain(partner_id=partner.pk)
    for status in ("CHARGING", "BLOCKED", "AVAILABLE", "CHARGING"):
        set_status(django_capture_on_commit_callbacks, location, status)
    assert outbox_drain(partner_id=partner.pk)["sent"] == 1
    assert statuses(receiver, location) == ["AVAILABLE", "CHARGING"]  # the PUT, then one PATCH: the newest state


def test_drain_resends_a_row_changed_while_it_was_on_the_wire(
    receiver, clock, drains, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    (location,) = make_locations(django_capture_on_commit_callbacks, 1)
    outbox_drain(partner_id=partner.pk)
    set_status(django_capture_on_commit_callbacks, location, "CHARGING")
    spec = get_module("locations")
    changed: list[EVSE] = []

    def push_then_change(**kwargs: Any) -> PushResult:
        result = spec.push(**kwargs)
        if not changed:
            changed.append(set_status(django_capture_on_commit_callbacks, location, "BLOCKED"))
        return result

    register_module("locations", audience=spec.audience, push=push_then_change, snapshot=spec.snapshot)
    try:
        report = outbox_drain(partner_id=partner.pk)
    finally:
        register_module("locations", audience=spec.audience, push=spec.push, snapshot=spec.snapshot)
    assert report["sent"] == 2  # the merged change made the bulk finish skip the row: sent again in the loop
    assert statuses(receiver, location) == ["AVAILABLE", "CHARGING", "BLOCKED"]
    assert partner.outbox_deliveries.filter(state=OutboxState.PENDING).count() == 0


def test_one_failing_row_does_not_lose_the_others(receiver, clock, drains, django_capture_on_commit_callbacks):
    from ocpi_platform.ocpi.client import OcpiPermanentError

    partner = partner_for(receiver)
    sent: list[int] = []

    def push(*, partner: Any, object_id: int, hint: dict, sync: Any) -> PushResult:
        if object_id == 2:
            raise OcpiPermanentError("refused", http_status=400, ocpi_status=2001)
        if object_id == 4:
            raise RuntimeError("bug in a push function")
        sent.append(object_id)
        return PushResult(action="PUT")

    register_module("drain_test", audience=lambda object_id: [partner], push=push)
    try:
        for object_id in range(1, 6):
            outbox_enqueue(module="drain_test", object_id=object_id)
        report = outbox_drain(partner_id=partner.pk)
    finally:
        unregister_module("drain_test")
    assert sent == [1, 3, 5]
    assert report["finished"] == 3 and report["failed"] == 2
    states = dict(partner.outbox_deliveries.values_list("object_id", "state"))
    assert states == {
        1: OutboxState.DELIVERED,
        2: OutboxState.FAILED,
        3: OutboxState.DELIVERED,
        4: OutboxState.PENDING,  # crashed: retried with backoff
        5: OutboxState.DELIVERED,
    }
    crashed = partner.outbox_deliveries.get(object_id=4)
    assert crashed.attempts == 1 and crashed.next_attempt_at > clock.now and crashed.claim_token == ""


def test_partner_down_then_up_gets_everything_in_order(receiver, clock, drains, django_capture_on_commit_callbacks):
    partner = partner_for(receiver)
    locations = make_locations(django_capture_on_commit_callbacks, 3)
    outbox_drain(partner_id=partner.pk)
    receiver.down()
    for status in ("CHARGING", "BLOCKED"):
        for location in locations:
            set_status(django_capture_on_commit_callbacks, location, status)
    drains.clear()
    report = outbox_drain(partner_id=partner.pk)
    assert report["outcome"] == "stopped" and report["sent"] == 1  # the first failure stops the drain
    pstate = OutboxPartnerState.objects.get(partner=partner)
    assert pstate.consecutive_failures == 1 and pstate.blocked_until > clock.now
    assert drains and drains[-1][1] > 0  # queued again for when the block ends
    assert partner.outbox_deliveries.filter(state=OutboxState.PENDING, claim_token="").count() == 3
    # While blocked, a drain sends nothing.
    assert outbox_drain(partner_id=partner.pk)["outcome"] == "blocked"
    # After the block one delivery probes; it fails: the partner is blocked again (the probe keeps the block).
    clock.to(pstate.blocked_until + timedelta(milliseconds=1))
    report = outbox_drain(partner_id=partner.pk)
    assert report["outcome"] == "stopped" and report["sent"] == 1 and report["batches"] == 1
    pstate.refresh_from_db()
    assert pstate.consecutive_failures == 2 and pstate.blocked_until > clock.now
    assert outbox_drain(partner_id=partner.pk)["outcome"] == "blocked"
    receiver.up()
    clock.to(pstate.blocked_until + timedelta(seconds=400))
    for location in locations:  # still changing while the partner was away
        set_status(django_capture_on_commit_callbacks, location, "RESERVED")
    report = outbox_drain(partner_id=partner.pk)
    assert report["outcome"] == "idle" and report["finished"] == 3
    assert report["batches"] == 2  # one probe, then the rest in one batch
    for location in locations:
        assert statuses(receiver, location)[-1] == "RESERVED"
    assert partner.outbox_deliveries.filter(state=OutboxState.PENDING).count() == 0
    pstate.refresh_from_db()
    assert pstate.consecutive_failures == 0 and pstate.blocked_until is None


def test_at_most_one_drain_per_partner(receiver, clock, drains, django_capture_on_commit_callbacks) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the partner's lane is a PostgreSQL advisory lock (SQLite: one process, eager tasks)")
    partner = partner_for(receiver)
    make_locations(django_capture_on_commit_callbacks, 2)
    db = connection.settings_dict
    dsn = {"dbname": db["NAME"], "user": db["USER"], "host": db["HOST"], "port": db["PORT"] or 5432}
    # Another worker's drain of this partner holds the lane.
    with psycopg.connect(**dsn, password=db["PASSWORD"] or None) as other:
        assert other.execute("SELECT pg_try_advisory_lock(%s, %s)", [DRAIN_LOCK_CLASS, partner.pk]).fetchone()[0]
        assert outbox_drain(partner_id=partner.pk) == {
            "sent": 0,
            "finished": 0,
            "failed": 0,
            "batches": 0,
            "outcome": "busy",
        }
        assert receiver.requests == []
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [DRAIN_LOCK_CLASS, partner.pk])
    assert outbox_drain(partner_id=partner.pk)["sent"] == 2
    # Our own lock was released: the next drain is not "busy".
    assert outbox_drain(partner_id=partner.pk)["outcome"] == "idle"


def test_a_lost_drain_is_recovered_by_the_beat(receiver, clock, drains, django_capture_on_commit_callbacks):
    partner = partner_for(receiver)
    (location,) = make_locations(django_capture_on_commit_callbacks, 1)
    # A drain claimed the row and its worker died: the lease runs out, no task is queued any more.
    row = partner.outbox_deliveries.get()
    OutboxDelivery.objects.filter(pk=row.pk).update(
        claim_token="dead-worker", claimed_until=clock.now + timedelta(seconds=30), queued_at=None
    )
    drains.clear()
    assert outbox_drain(partner_id=partner.pk)["sent"] == 0  # leased by the dead drain
    assert outbox_requeue_due() == 0
    clock.advance(31)
    assert outbox_requeue_due() == 1
    assert drains == [(partner.pk, 0)]
    assert outbox_drain(partner_id=partner.pk)["sent"] == 1
    assert statuses(receiver, location) == ["AVAILABLE"]


def test_drain_sends_live_changes_before_an_initial_sync_backlog(
    receiver, clock, drains, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    locations = make_locations(django_capture_on_commit_callbacks, 3)
    outbox_drain(partner_id=partner.pk)
    # Two rows parked by an initial sync (due later, released by the drain rather than by their time) ...
    for location in locations[:2]:
        outbox_enqueue(module="locations", object_id=location.pk, hint={"full": True}, partners=[partner])
    OutboxDelivery.objects.filter(state=OutboxState.PENDING).update(
        note=outbox_services.BACKLOG_NOTE, queued_at=None, next_attempt_at=clock.now + timedelta(hours=1)
    )
    # ... and a live change.
    set_status(django_capture_on_commit_callbacks, locations[2], "CHARGING")
    assert outbox_drain(partner_id=partner.pk)["finished"] == 3
    tail = [r.path.rsplit("/", 2) for r in receiver.ok()[3:]]
    assert tail[0][-2:] == ["LOC2", "EVSE2"]  # the live PATCH first
    assert [t[-1] for t in tail[1:]] == ["LOC0", "LOC1"]


def test_schedule_drain_queues_one_pending_drain_per_partner(settings, mocker) -> None:
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("drain deduplication needs the shared (Redis) cache: set REDIS_URL")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    enqueue = mocker.patch("partners.outbox.services.enqueue")
    partner_id = 987654
    outbox_services.drain_started(partner_id)  # no key left from another run
    outbox_services.schedule_drain(partner_id)
    outbox_services.schedule_drain(partner_id)
    assert enqueue.call_count == 1
    outbox_services.drain_started(partner_id)  # the drain holds the lane: later changes need a new drain
    outbox_services.schedule_drain(partner_id)
    assert enqueue.call_count == 2
    outbox_services.schedule_drain(partner_id, force=True)  # the beat, a drain re-queuing itself
    assert enqueue.call_count == 3
    outbox_services.drain_started(partner_id)


def test_one_budget_spans_every_lane_hold_of_a_drain(mocker: Any, drains: Any) -> None:
    """A drain that goes idle and finds new rows takes the lane again with what is left of its budget, not a fresh
    one (a drain ran 17 s with a 5 s budget that way)."""
    from partners.outbox import drain

    budgets: list[float] = []

    def locked(partner_id: int, report: dict[str, Any], budget: float) -> str:
        budgets.append(budget)
        return "idle"

    mocker.patch.object(drain, "_drain_locked", side_effect=locked)
    mocker.patch.object(drain, "_lock", return_value=True)
    mocker.patch.object(drain, "_unlock")
    new_rows = iter([True, True, False])  # rows committed while the drain was finishing, twice
    mocker.patch.object(drain, "_claimable", return_value=mocker.Mock(exists=lambda: next(new_rows)))

    assert outbox_drain(partner_id=1)["outcome"] == "idle"
    assert len(budgets) == 3 and len(set(budgets)) == 1


def test_a_healthy_partner_costs_no_state_writes_per_batch(
    receiver, clock, drains, django_capture_on_commit_callbacks, settings
) -> None:
    """While the partner answers, a batch does not write its circuit state (nothing to close) and the last success
    is stamped at most once a second; a batch whose rows nobody changed meanwhile releases nothing."""
    from django.test.utils import CaptureQueriesContext

    settings.OCPI_OUTBOX_DRAIN_BATCH = 1  # three batches
    partner = partner_for(receiver)
    locations = make_locations(django_capture_on_commit_callbacks, 3)
    with CaptureQueriesContext(connection) as queries:
        assert outbox_drain(partner_id=partner.pk)["batches"] == 3
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert sum('"partners_outboxpartnerstate"' in sql for sql in writes) == 1  # last_success_at, once
    assert sum('"partners_outboxdelivery"' in sql and 'SET "state"' in sql for sql in writes) == 3  # finished
    assert not any('SET "claimed_until" = NULL' in sql and '"state" = ' not in sql.split("WHERE")[0] for sql in writes)
    first = OutboxPartnerState.objects.get(partner=partner).last_success_at
    assert first == clock.now
    clock.advance(2)
    set_status(django_capture_on_commit_callbacks, locations[0], "CHARGING")
    assert outbox_drain(partner_id=partner.pk)["sent"] == 1
    assert OutboxPartnerState.objects.get(partner=partner).last_success_at == clock.now > first
