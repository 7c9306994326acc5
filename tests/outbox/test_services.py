"""Outbox behaviour against real loopback Receivers, with the task body run in-process (tests/outbox/conftest.py)."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction

from locations.models import EVSE, Location
from locations.services import evse_set_status, location_create, location_update
from ocpi_platform.ocpi.envelope import format_datetime
from partners.models import OutboxDelivery, OutboxPartnerState, OutboxState, OutboxSync, PartnerState
from partners.outbox import (
    PushResult,
    UnknownOutboxModule,
    get_module,
    hint_merge,
    outbox_dead_letter,
    outbox_deliver,
    outbox_enqueue,
    outbox_requeue_due,
    outbox_retry,
    register_module,
    unregister_module,
)
from tests.outbox.conftest import location_data, partner_for

pytestmark = pytest.mark.django_db


def create_location(capture: Any, **kwargs: Any) -> Location:
    with capture(execute=True):
        return location_create(data=location_data(**kwargs))


def set_status(capture: Any, location: Location, status: str, uid: str = "EVSE1") -> EVSE:
    evse = EVSE.objects.get(location=location, uid=uid)
    time.sleep(0.002)  # distinct last_updated per change
    with capture(execute=True):
        return evse_set_status(evse=evse, status=status)


def delivery_of(partner: Any, location: Location) -> OutboxDelivery:
    return OutboxDelivery.objects.filter(partner=partner, module="locations", object_id=location.pk).latest("pk")


# --- Hints ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "merged"),
    [
        (
            {"evse_uid": "E1", "fields": ["status"]},
            {"evse_uid": "E1", "fields": ["status"]},
            {"evse_uid": "E1", "fields": ["status"]},
        ),
        (
            {"evse_uid": "E1", "fields": ["status"]},
            {"evse_uid": "E1", "fields": ["capabilities"]},
            {"evse_uid": "E1", "fields": ["capabilities", "status"]},
        ),
        ({"evse_uid": "E1", "fields": ["status"]}, {"evse_uid": "E2", "fields": ["status"]}, {"full": True}),
        (
            {"evse_uid": "E1", "fields": ["status"]},
            {"evse_uid": "E1", "connector_id": "1", "fields": ["x"]},
            {"full": True},
        ),
        ({"evse_uid": "E1", "fields": ["status"]}, {"evse_uid": "E1", "full": True}, {"evse_uid": "E1", "full": True}),
        ({"evse_uid": "E1", "fields": ["status"]}, {}, {"full": True}),
        ({"fields": ["name"]}, {"full": True}, {"full": True}),
        ({}, {"deleted": True}, {"full": True}),
        ({"deleted": True}, {"deleted": True}, {"deleted": True}),
        ({"fields": "status"}, {"fields": ["status"]}, {"full": True}),  # malformed -> conservative
    ],
)
def test_hint_merge_unions_same_target_and_widens_conflicts(old: dict, new: dict, merged: dict) -> None:
    assert hint_merge(old, new) == merged


# --- Enqueue --------------------------------------------------------------------------------------


def test_enqueue_writes_one_delivery_per_receiver_partner_and_queues_on_commit(
    receiver, other_receiver, runner, django_capture_on_commit_callbacks
) -> None:
    first = partner_for(receiver, "A", ("DE", "EMP"))
    second = partner_for(other_receiver, "B", ("FR", "EMF"))
    partner_for(receiver, "no locations", ("BE", "EMB"), modules=("tariffs",))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        location = location_create(data=location_data())
    rows = OutboxDelivery.objects.filter(module="locations", object_id=location.pk)
    assert sorted(rows.values_list("partner_id", flat=True)) == [first.pk, second.pk]
    assert runner.scheduled == []  # nothing before commit
    for callback in callbacks:
        callback()
    assert sorted(pk for pk, _ in runner.scheduled) == sorted(rows.values_list("pk", flat=True))


def test_enqueue_rolled_back_change_sends_nothing(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner_for(receiver)

    def failing_change() -> None:
        with transaction.atomic():
            location_create(data=location_data())
            raise RuntimeError("the change fails after the outbox row was written")

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        failing_change()
    assert OutboxDelivery.objects.count() == 0
    assert runner.scheduled == []
    runner.run_due()
    assert receiver.requests == []


def test_enqueue_unknown_module_is_an_error(receiver, runner) -> None:
    partner = partner_for(receiver)
    with pytest.raises(UnknownOutboxModule):
        outbox_enqueue(module="locatoins", object_id=1, partners=[partner])
    with pytest.raises(LookupError):
        get_module("locatoins")
    assert OutboxDelivery.objects.count() == 0


def test_a_modules_pace_hook_moves_its_open_delivery(
    receiver, runner, clock, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    asked: list[dict[str, Any]] = []

    def pace(**kwargs: Any) -> Any:
        asked.append(kwargs)
        return kwargs["now"] + timedelta(seconds=30)

    register_module("paced", audience=lambda object_id: [], push=lambda **kw: PushResult.skip("test"), pace=pace)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            outbox_enqueue(module="paced", object_id=7, hint={"fields": ["kwh"]}, partners=[partner])
    finally:
        unregister_module("paced")
    delivery = OutboxDelivery.objects.get(module="paced")
    assert delivery.next_attempt_at == clock.now + timedelta(seconds=30)
    assert (delivery.pk, 30.0) in runner.scheduled
    assert asked[0]["partner_id"] == partner.pk and asked[0]["object_id"] == 7
    assert asked[0]["last_sent"] is None and asked[0]["hint"] == {"fields": ["kwh"]}


# --- Locations: PUT, PATCH, coalescing --------------------------------------------------------------


def test_new_location_is_put_with_routing_headers(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)

    assert runner.run_due() == ["delivered"]
    (put,) = receiver.requests
    assert put.method == "PUT"
    assert put.path == "/ocpi/emsp/2.2.1/locations/NL/EXA/LOC1"
    assert put.body["id"] == "LOC1"
    assert put.body["evses"][0]["uid"] == "EVSE1"
    assert put.headers["ocpi-from-country-code"] == "NL"
    assert put.headers["ocpi-from-party-id"] == "EXA"
    assert put.headers["ocpi-to-country-code"] == "DE"
    assert put.headers["ocpi-to-party-id"] == "EMP"
    delivery = delivery_of(partner, location)
    assert (delivery.state, delivery.action, delivery.attempts) == (OutboxState.DELIVERED, "PUT", 0)
    sync = OutboxSync.objects.get(partner=partner, module="locations", object_id=location.pk)
    location.refresh_from_db()
    assert sync.exists is True
    assert sync.delivered_last_updated == location.last_updated


def test_evse_status_change_is_patched_with_fresh_last_updated(
    receiver, runner, django_capture_on_commit_callbacks
) -> None:
    partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    runner.run_due()
    put_stamp = receiver.requests[0].body["evses"][0]["last_updated"]

    evse = set_status(django_capture_on_commit_callbacks, location, "CHARGING")
    assert runner.run_due() == ["delivered"]

    patch = receiver.requests[-1]
    assert patch.method == "PATCH"
    assert patch.path == "/ocpi/emsp/2.2.1/locations/NL/EXA/LOC1/EVSE1"
    assert patch.body == {"status": "CHARGING", "last_updated": format_datetime(evse.last_updated)}
    assert patch.body["last_updated"] > put_stamp


def test_location_field_change_is_patched_on_the_location(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    runner.run_due()
    with django_capture_on_commit_callbacks(execute=True):
        location_update(location=location, data={"name": "Renamed"})
    runner.run_due()
    patch = receiver.requests[-1]
    assert (patch.method, patch.path) == ("PATCH", "/ocpi/emsp/2.2.1/locations/NL/EXA/LOC1")
    assert patch.body["name"] == "Renamed"
    assert set(patch.body) == {"name", "last_updated"}


def test_burst_of_changes_is_coalesced_into_one_request_with_the_last_state(
    receiver, runner, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    runner.run_due()
    for status in ("CHARGING", "BLOCKED", "AVAILABLE", "CHARGING"):
        set_status(django_capture_on_commit_callbacks, location, status)

    open_rows = OutboxDelivery.objects.filter(partner=partner, state=OutboxState.PENDING)
    assert open_rows.count() == 1
    assert open_rows.get().hint == {"evse_uid": "EVSE1", "fields": ["status"]}
    assert open_rows.get().revision == 4
    assert runner.run_due() == ["delivered"]
    assert [r.method for r in receiver.requests] == ["PUT", "PATCH"]
    assert receiver.requests[-1].body["status"] == "CHARGING"


def test_burst_on_two_evses_widens_to_a_location_put(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks, evses=("EVSE1", "EVSE2"))
    runner.run_due()
    set_status(django_capture_on_commit_callbacks, location, "CHARGING", "EVSE1")
    set_status(django_capture_on_commit_callbacks, location, "OUTOFORDER", "EVSE2")
    runner.run_due()
    last = receiver.requests[-1]
    assert (last.method, last.path) == ("PUT", "/ocpi/emsp/2.2.1/locations/NL/EXA/LOC1")
    assert [e["status"] for e in last.body["evses"]] == ["CHARGING", "OUTOFORDER"]


def test_change_during_a_send_is_sent_again_with_the_newer_state(
    receiver, runner, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    runner.run_due()
    set_status(django_capture_on_commit_callbacks, location, "CHARGING")
    real_push = get_module("locations").push
    changed = []

    def push_then_change(**kwargs: Any) -> PushResult:
        result = real_push(**kwargs)
        if not changed:  # the object changes while the first PATCH is on the wire
            changed.append(set_status(django_capture_on_commit_callbacks, location, "AVAILABLE"))
        return result

    spec = get_module("locations")
    register_module("locations", audience=spec.audience, push=push_then_change, snapshot=spec.snapshot)
    try:
        assert runner.run_due() == ["resend", "delivered"]
    finally:
        register_module("locations", audience=spec.audience, push=real_push, snapshot=spec.snapshot)
    assert [r.body["status"] for r in receiver.requests[1:]] == ["CHARGING", "AVAILABLE"]
    assert delivery_of(partner, location).state == OutboxState.DELIVERED


def test_unpublished_location_is_skipped_and_publishing_puts_it(
    receiver, runner, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks, publish=False)
    assert runner.run_due() == ["skipped"]
    assert receiver.requests == []
    assert delivery_of(partner, location).note == "location not published"
    with django_capture_on_commit_callbacks(execute=True):
        location_update(location=location, data={"publish": True})
    runner.run_due()
    assert [r.method for r in receiver.requests] == ["PUT"]


def test_up_to_date_partner_is_not_sent_the_same_state_again(
    receiver, runner, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    runner.run_due()
    set_status(django_capture_on_commit_callbacks, location, "CHARGING")
    runner.run_due()
    outbox_enqueue(module="locations", object_id=location.pk, hint={"evse_uid": "EVSE1", "fields": ["status"]})
    assert runner.run_due() == ["skipped"]
    assert len(receiver.requests) == 2
    # A full hint (staff "push now") is a PUT even so.
    outbox_enqueue(module="locations", object_id=location.pk, hint={"full": True}, partners=[partner])
    runner.run_due()
    assert receiver.requests[-1].method == "PUT"


def test_rejected_patch_falls_back_to_a_put(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    runner.run_due()
    set_status(django_capture_on_commit_callbacks, location, "CHARGING")
    receiver.fail(404, times=1, ocpi_status=2003)  # the partner lost the location
    assert runner.run_due() == ["delivered"]
    assert [r.method for r in receiver.requests] == ["PUT", "PATCH", "PUT"]
    assert receiver.requests[-1].body["evses"][0]["status"] == "CHARGING"


# --- Failures -------------------------------------------------------------------------------------


def test_partner_answering_503_for_a_while_gets_every_update_in_order_last_state_wins(
    receiver, runner, clock, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    runner.run_due()
    receiver.fail(503, times=5)
    statuses = iter(["CHARGING", "BLOCKED", "AVAILABLE", "OUTOFORDER", "CHARGING"])

    def change_between_retries(step: int) -> None:
        status = next(statuses, None)
        if status:
            set_status(django_capture_on_commit_callbacks, location, status)

    set_status(django_capture_on_commit_callbacks, location, "OUTOFORDER")
    started = clock.now
    runner.run_until_idle(between=change_between_retries)

    delivered = receiver.ok()
    assert [r.method for r in receiver.requests].count("PATCH") == 6  # 5 x 503, then success
    assert delivered[-1].body["status"] == "CHARGING"
    stamps = [r.body.get("last_updated") or r.body["evses"][0]["last_updated"] for r in delivered]
    assert stamps == sorted(stamps)  # never an older state after a newer one
    evse = EVSE.objects.get(location=location)
    assert delivered[-1].body["last_updated"] == format_datetime(evse.last_updated)
    delivery = delivery_of(partner, location)
    assert delivery.state == OutboxState.DELIVERED
    assert delivery.attempts == 5
    assert clock.now - started > timedelta(seconds=5 + 10 + 20 + 40) * 0.5  # exponential backoff, jittered
    assert OutboxPartnerState.objects.get(partner=partner).consecutive_failures == 0


def test_permanent_4xx_is_recorded_and_not_retried(receiver, runner, clock, django_capture_on_commit_callbacks) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    receiver.fail(400, ocpi_status=2001)
    assert runner.run_due() == ["failed"]
    delivery = delivery_of(partner, location)
    assert delivery.state == OutboxState.FAILED
    assert (delivery.last_http_status, delivery.last_ocpi_status) == (400, 2001)
    assert "HTTP 400" in delivery.last_error
    clock.advance(7200)
    runner.run_due()
    outbox_requeue_due()
    runner.run_due()
    assert len(receiver.requests) == 1
    # The partner is up (it answered): its other deliveries are not held back.
    assert OutboxPartnerState.objects.get(partner=partner).blocked_until is None


def test_next_change_after_a_failure_carries_what_the_partner_missed(
    receiver, runner, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    receiver.fail(400, times=1)
    runner.run_due()
    set_status(django_capture_on_commit_callbacks, location, "CHARGING")
    failed = OutboxDelivery.objects.get(partner=partner, state=OutboxState.SUPERSEDED)
    assert failed.last_error
    runner.run_due()
    assert [r.method for r in receiver.requests] == ["PUT", "PUT"]  # never delivered: a PUT, not a PATCH


def test_dead_letter_after_max_attempts_then_admin_retry(
    receiver, runner, clock, settings, admin_client, django_capture_on_commit_callbacks
) -> None:
    settings.OCPI_OUTBOX_MAX_ATTEMPTS = 3
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    receiver.fail(503)
    runner.run_until_idle()
    delivery = delivery_of(partner, location)
    assert delivery.state == OutboxState.DEAD
    assert delivery.attempts == 3
    assert "503" in delivery.last_error
    assert len(receiver.requests) == 3

    receiver.heal()
    clock.advance(3600)
    response = admin_client.post(
        "/admin/partners/outboxdelivery/",
        {"action": "action_retry", "_selected_action": [delivery.pk], "post": "yes"},
    )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (OutboxState.PENDING, 0)
    assert runner.scheduled[-1][0] == delivery.pk
    runner.run_due()
    delivery.refresh_from_db()
    assert delivery.state == OutboxState.DELIVERED
    assert receiver.ok("PUT")


def test_retry_of_a_dead_delivery_merges_into_a_newer_pending_one(
    receiver, runner, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    dead = outbox_dead_letter(delivery=delivery_of(partner, location))
    newer = OutboxDelivery.objects.create(
        partner=partner,
        module="locations",
        object_id=location.pk,
        hint={"fields": ["name"]},
        next_attempt_at=dead.created_at,
    )
    with django_capture_on_commit_callbacks(execute=True):
        outbox_retry(delivery=dead)
    dead.refresh_from_db()
    newer.refresh_from_db()
    assert dead.state == OutboxState.SUPERSEDED
    assert newer.hint == {"full": True}
    with pytest.raises(ValueError, match="only failed or dead"):
        outbox_retry(delivery=newer)


def test_retry_after_of_a_429_is_honoured_for_every_delivery_of_that_partner(
    receiver, runner, clock, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    receiver.fail(429, times=1, retry_after=120)
    first = create_location(django_capture_on_commit_callbacks, ocpi_id="LOC1")
    t0 = clock.now
    assert runner.run_due() == ["retry"]
    create_location(django_capture_on_commit_callbacks, ocpi_id="LOC2", evses=("EVSE2",))
    assert runner.run_due() == ["deferred"]  # the other location waits for Retry-After too
    assert len(receiver.requests) == 1
    assert delivery_of(partner, first).next_attempt_at >= t0 + timedelta(seconds=120)
    assert all(d.next_attempt_at >= t0 + timedelta(seconds=120) for d in OutboxDelivery.objects.all())

    clock.to(t0 + timedelta(seconds=119))
    for delivery in OutboxDelivery.objects.all():
        assert outbox_deliver(delivery_id=delivery.pk) in ("not-due", "deferred")
    assert len(receiver.requests) == 1  # no request before Retry-After

    clock.to(t0 + timedelta(seconds=122))
    runner.run_due()
    assert len(receiver.ok("PUT")) == 2


def test_one_partner_down_does_not_delay_another(
    receiver, other_receiver, runner, clock, django_capture_on_commit_callbacks
) -> None:
    down = partner_for(receiver, "down", ("DE", "EMP"), timeout_seconds=0.5)
    healthy = partner_for(other_receiver, "healthy", ("FR", "EMF"))
    receiver.hang()  # every request to `down` times out
    for n in range(5):
        create_location(django_capture_on_commit_callbacks, ocpi_id=f"LOC{n}", evses=(f"E{n}",))

    started = time.monotonic()
    runner.run_due()
    elapsed = time.monotonic() - started

    assert len(other_receiver.ok("PUT")) == 5
    assert len(receiver.requests) == 1  # one probe timed out; the other four waited without a request
    assert elapsed < 0.5 * 2 + 1.5  # only one timeout's worth of worker time went to the down partner
    pending = OutboxDelivery.objects.filter(partner=down, state=OutboxState.PENDING)
    assert pending.count() == 5
    assert sum(d.attempts for d in pending) == 1
    assert not OutboxDelivery.objects.filter(partner=healthy).exclude(state=OutboxState.DELIVERED).exists()

    # Still down at the next probe: still one request per probe.
    clock.to(OutboxPartnerState.objects.get(partner=down).blocked_until + timedelta(seconds=1))
    runner.run_due()
    assert len(receiver.requests) == 2

    receiver.heal()
    runner.run_until_idle()
    assert len(receiver.ok("PUT")) == 5


def test_down_partner_refusing_connections_recovers(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner = partner_for(receiver)
    receiver.down()
    location = create_location(django_capture_on_commit_callbacks)
    assert runner.run_due() == ["retry"]
    assert "Connection error" in delivery_of(partner, location).last_error
    receiver.up()
    runner.run_until_idle()
    assert receiver.ok("PUT")


def test_partner_rate_limit_spaces_requests(receiver, runner, clock, django_capture_on_commit_callbacks) -> None:
    partner_for(receiver, rate_limit_per_second=0.5)
    for n in range(3):
        create_location(django_capture_on_commit_callbacks, ocpi_id=f"LOC{n}", evses=(f"E{n}",))
    t0 = clock.now
    assert sorted(runner.run_due()) == ["delivered", "rate-limited", "rate-limited"]
    runner.run_until_idle()
    assert len(receiver.ok("PUT")) == 3
    assert clock.now - t0 >= timedelta(seconds=4)  # 3 requests at most one per 2 seconds


# --- Idempotency, leases, lost tasks ------------------------------------------------------------------


def test_task_for_a_leased_or_finished_delivery_does_nothing(
    receiver, runner, clock, django_capture_on_commit_callbacks
) -> None:
    partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    delivery = OutboxDelivery.objects.get(object_id=location.pk)
    OutboxDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=clock.now + timedelta(seconds=30), claim_token="x"
    )
    assert outbox_deliver(delivery_id=delivery.pk) == "busy"
    clock.advance(31)  # the lease of a dead worker expires
    assert outbox_deliver(delivery_id=delivery.pk) == "delivered"
    assert outbox_deliver(delivery_id=delivery.pk) == "done"
    assert outbox_deliver(delivery_id=999999) == "done"
    assert len(receiver.requests) == 1


def test_sync_state_never_moves_backwards(receiver, runner, django_capture_on_commit_callbacks) -> None:
    from partners.outbox.services import _record_sync

    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    runner.run_due()
    sync = OutboxSync.objects.get(partner=partner)
    newest = sync.delivered_last_updated
    _record_sync(sync, PushResult(action="PUT", last_updated=newest - timedelta(minutes=5), exists=True))
    sync.refresh_from_db()
    assert sync.delivered_last_updated == newest
    assert location.pk == sync.object_id


def test_beat_requeues_due_deliveries_whose_task_was_lost(
    receiver, runner, clock, settings, django_capture_on_commit_callbacks
) -> None:
    settings.OCPI_OUTBOX_REQUEUE_GRACE_SECONDS = 60
    partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    delivery = OutboxDelivery.objects.get(object_id=location.pk)
    runner.scheduled.clear()  # the broker lost the task

    assert outbox_requeue_due() == 0  # queued a moment ago: give the task time to run
    clock.advance(61)
    assert outbox_requeue_due() == 1
    assert runner.scheduled == [(delivery.pk, 0)]
    assert outbox_requeue_due() == 0  # just re-queued

    # A worker killed mid-send: the lease expires, then the beat re-queues it.
    OutboxDelivery.objects.filter(pk=delivery.pk).update(
        claimed_until=clock.now + timedelta(seconds=20), claim_token="dead", queued_at=None
    )
    assert outbox_requeue_due() == 0
    clock.advance(21)
    assert outbox_requeue_due() == 1
    runner.run_due()
    assert receiver.ok("PUT")


def test_unregistered_partner_gets_nothing(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    partner.state = PartnerState.UNREGISTERED
    partner.save()
    assert runner.run_due() == ["skipped"]
    assert delivery_of(partner, location).note == "partner not registered"
    assert receiver.requests == []


def test_crashing_push_function_is_retried_not_lost(
    receiver, runner, clock, django_capture_on_commit_callbacks
) -> None:
    partner = partner_for(receiver)
    location = create_location(django_capture_on_commit_callbacks)
    spec = get_module("locations")

    def broken(**kwargs: Any) -> PushResult:
        raise KeyError("bug")

    register_module("locations", audience=spec.audience, push=broken, snapshot=spec.snapshot)
    try:
        assert runner.run_due() == ["retry"]
    finally:
        register_module("locations", audience=spec.audience, push=spec.push, snapshot=spec.snapshot)
    assert "KeyError" in delivery_of(partner, location).last_error
    runner.run_until_idle()
    assert delivery_of(partner, location).state == OutboxState.DELIVERED


def test_outbox_purge_finished_keeps_recent_failed_and_open_rows(db: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from partners.models import OutboxDelivery, OutboxState
    from partners.outbox import outbox_purge_finished
    from tests.conftest import make_registered_partner

    partner = make_registered_partner("P", [("EMSP", "DE", "EMP")]).partner
    now = timezone.now()
    old = now - timedelta(days=31)

    def row(object_id: int, state: str, finished_at: Any) -> OutboxDelivery:
        return OutboxDelivery.objects.create(
            partner=partner, module="locations", object_id=object_id, state=state, next_attempt_at=now,
            finished_at=finished_at,
        )  # fmt: skip

    row(1, OutboxState.DELIVERED, old)
    row(2, OutboxState.SKIPPED, old)
    row(3, OutboxState.DELIVERED, now)
    row(4, OutboxState.DEAD, old)
    row(5, OutboxState.PENDING, None)
    assert outbox_purge_finished() == 2
    assert sorted(OutboxDelivery.objects.values_list("object_id", flat=True)) == [3, 4, 5]


# --- Send slots: a live change waits for a free slot of its partner, released when a send finishes -------


def test_change_finding_every_slot_taken_waits_and_the_next_finished_send_releases_it(
    receiver, runner, clock, settings, django_capture_on_commit_callbacks
) -> None:
    from partners.outbox.services import SLOT_NOTE

    settings.OCPI_OUTBOX_PARTNER_CONCURRENCY = 1
    partner_for(receiver)
    first = create_location(django_capture_on_commit_callbacks, ocpi_id="LOC1", evses=("E1",))
    second = create_location(django_capture_on_commit_callbacks, ocpi_id="LOC2", evses=("E2",))
    d1 = OutboxDelivery.objects.get(object_id=first.pk)
    d2 = OutboxDelivery.objects.get(object_id=second.pk)
    # d1 is being sent by another worker (its slot is taken) when d2's task runs.
    OutboxDelivery.objects.filter(pk=d1.pk).update(claimed_until=clock.now + timedelta(seconds=30), claim_token="t1")
    runner.scheduled.clear()

    assert outbox_deliver(delivery_id=d2.pk) == "waiting"
    d2.refresh_from_db()
    assert (d2.note, d2.queued_at, d2.state) == (SLOT_NOTE, None, OutboxState.PENDING)
    assert d2.next_attempt_at > clock.now  # not polled: no task, not due for the beat either
    assert runner.scheduled == []
    assert outbox_requeue_due() == 0

    # A change of LOC2 meanwhile merges into the waiting row and does not queue a task of its own.
    set_status(django_capture_on_commit_callbacks, second, "CHARGING", uid="E2")
    assert runner.scheduled == []

    # d1's send finishes: its slot goes to d2 at once, which sends LOC2's newest state.
    OutboxDelivery.objects.filter(pk=d1.pk).update(claimed_until=None, claim_token="")
    assert outbox_deliver(delivery_id=d1.pk) == "delivered"
    assert runner.scheduled == [(d2.pk, 0)]
    assert outbox_deliver(delivery_id=d2.pk) == "delivered"
    sent = receiver.ok("PUT")[-1]
    assert sent.path.endswith("/LOC2") and sent.body["evses"][0]["status"] == "CHARGING"


def test_waiting_change_releases_itself_when_the_slot_freed_before_it_parked(
    receiver, runner, clock, settings, django_capture_on_commit_callbacks, mocker
) -> None:
    from partners.outbox import services

    settings.OCPI_OUTBOX_PARTNER_CONCURRENCY = 1
    partner = partner_for(receiver)
    create_location(django_capture_on_commit_callbacks, ocpi_id="LOC1", evses=("E1",))
    delivery = OutboxDelivery.objects.get()
    runner.scheduled.clear()
    # Taken when counted, free by the time the row is parked (the other send finished).
    mocker.patch.object(services, "_in_flight", side_effect=[1, 0])

    assert outbox_deliver(delivery_id=delivery.pk) == "waiting"
    assert runner.scheduled == [(delivery.pk, 0)]  # nobody else would have released it
    mocker.stopall()
    runner.run_due()
    assert receiver.ok("PUT") and partner.outbox_deliveries.get().state == OutboxState.DELIVERED


def test_waiting_live_changes_go_before_an_initial_sync_backlog(receiver, runner, clock, settings) -> None:
    from partners.outbox import outbox_pump
    from partners.outbox.services import BACKLOG_NOTE, SLOT_NOTE

    partner = partner_for(receiver)
    later = clock.now + timedelta(seconds=60)
    backlog = OutboxDelivery.objects.create(
        partner=partner, module="locations", object_id=1, note=BACKLOG_NOTE, next_attempt_at=clock.now
    )
    live = OutboxDelivery.objects.create(
        partner=partner, module="locations", object_id=2, note=SLOT_NOTE, next_attempt_at=later
    )
    assert outbox_pump(partner_id=partner.pk) == 1
    assert runner.scheduled == [(live.pk, 0)]
    assert outbox_pump(partner_id=partner.pk) == 1
    assert runner.scheduled[-1] == (backlog.pk, 0)


# --- Fan-out: one change to many partners costs a constant number of queries ---------------------------


def _enqueue_queries(location: Location, hint: dict[str, Any]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        outbox_enqueue(module="locations", object_id=location.pk, hint=hint)
    return len(captured.captured_queries)


def test_a_change_fans_out_to_many_partners_with_a_constant_number_of_queries(
    receiver, runner, django_capture_on_commit_callbacks
) -> None:
    partner_for(receiver, name="P0", party=("DE", "P00"))
    location = create_location(django_capture_on_commit_callbacks)
    OutboxDelivery.objects.all().delete()
    opening_few = _enqueue_queries(location, {"evse_uid": "EVSE1", "fields": ["status"]})
    merging_few = _enqueue_queries(location, {"evse_uid": "EVSE1", "fields": ["status"]})
    for n in range(1, 8):
        partner_for(receiver, name=f"P{n}", party=("DE", f"P{n:02d}"))
    OutboxDelivery.objects.all().delete()
    assert _enqueue_queries(location, {"evse_uid": "EVSE1", "fields": ["status"]}) == opening_few
    assert _enqueue_queries(location, {"evse_uid": "EVSE1", "fields": ["capabilities"]}) == merging_few
    rows = OutboxDelivery.objects.filter(state=OutboxState.PENDING)
    assert rows.count() == 8
    assert {row.revision for row in rows} == {2}
    assert all(row.hint == {"evse_uid": "EVSE1", "fields": ["capabilities", "status"]} for row in rows)


def test_a_row_opened_concurrently_during_the_fan_out_is_merged_into(
    receiver, runner, django_capture_on_commit_callbacks, mocker
) -> None:
    first = partner_for(receiver, name="P1", party=("DE", "P01"))
    second = partner_for(receiver, name="P2", party=("DE", "P02"))
    location = create_location(django_capture_on_commit_callbacks)
    OutboxDelivery.objects.all().delete()
    dead = OutboxDelivery.objects.create(
        partner=second,
        module="locations",
        object_id=location.pk,
        state=OutboxState.DEAD,
        hint={"evse_uid": "EVSE1", "fields": ["capabilities"]},
        next_attempt_at=runner.clock(),
    )
    from partners.outbox import services

    real_merge = services.hint_merge

    def another_change_commits_first(old: Any, new: Any) -> Any:
        # Runs between the fan-out's locking read of open rows and its insert (merging the dead row's hint).
        mocker.stopall()
        OutboxDelivery.objects.create(
            partner=first,
            module="locations",
            object_id=location.pk,
            hint={"full": True},
            next_attempt_at=runner.clock(),
        )
        return real_merge(old, new)

    mocker.patch.object(services, "hint_merge", side_effect=another_change_commits_first)
    outbox_enqueue(module="locations", object_id=location.pk, hint={"evse_uid": "EVSE1", "fields": ["status"]})

    open_rows = {r.partner_id: r for r in OutboxDelivery.objects.filter(state=OutboxState.PENDING)}
    assert set(open_rows) == {first.pk, second.pk}
    assert open_rows[first.pk].hint == {"full": True} and open_rows[first.pk].revision == 2
    assert open_rows[second.pk].hint == {"evse_uid": "EVSE1", "fields": ["capabilities", "status"]}
    dead.refresh_from_db()
    assert dead.state == OutboxState.SUPERSEDED and str(open_rows[second.pk].pk) in dead.note
