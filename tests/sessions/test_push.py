"""Our sessions through the outbox to live loopback Receivers: only the token owner gets them; PUT first,
then PATCHes (progress paced) ending COMPLETED; a failed or unanswered PATCH is followed by a PUT."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from partners.models import OutboxDelivery, OutboxState
from partners.outbox import outbox_deliver, outbox_enqueue
from sessions.models import ChargingSession
from sessions.services import session_add_period, session_start, session_stop
from tests.outbox.conftest import partner_for
from tests.sessions.factories import ReceivedSessionFactory, cdr_token

pytestmark = pytest.mark.django_db

PATH = "/ocpi/emsp/2.2.1/sessions/NL/EXA/S1"


@pytest.fixture
def moving(clock: Any, runner: Any, mocker: Any, settings: Any) -> Any:
    """The sessions services share the outbox clock; paced rows are queued through the runner."""
    settings.OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS = 60
    mocker.patch("sessions.services._now", clock)
    return runner


@pytest.fixture
def owner(receiver: Any) -> Any:
    return partner_for(receiver, name="Token owner", party=("DE", "EMP"), modules=("sessions",))


@pytest.fixture
def bystander(other_receiver: Any) -> Any:
    return partner_for(other_receiver, name="Bystander", party=("FR", "BBB"), modules=("sessions", "locations"))


def start(capture: Any, clock: Any) -> ChargingSession:
    with capture(execute=True):
        return session_start(
            country_code="NL",
            party_id="EXA",
            ocpi_id="S1",
            location_id="LOC1",
            evse_uid="EVSE1",
            connector_id="1",
            cdr_token=cdr_token(),
            auth_method="AUTH_REQUEST",
            authorization_reference="AUTH-1",
            start_date_time=clock.now,
            currency="EUR",
        )


def add_period(capture: Any, clock: Any, session: ChargingSession, kwh: int, cost: str | None = None) -> Any:
    with capture(execute=True):
        return session_add_period(
            session=session,
            start_date_time=clock.now,
            dimensions=[{"type": "ENERGY", "volume": kwh}],
            kwh_total=kwh,
            cost_excl_vat=Decimal(cost) if cost else None,
        )


def stop(capture: Any, clock: Any, session: ChargingSession) -> ChargingSession:
    with capture(execute=True):
        return session_stop(session=session, end_date_time=clock.now)


def calls(fake: Any) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


def test_token_owner_gets_put_then_patches_ending_completed_and_nobody_else_gets_anything(
    our_cpo,
    clock,
    owner,
    bystander,
    receiver,
    other_receiver,
    moving,
    django_capture_on_commit_callbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    session = start(capture, clock)
    assert moving.run_due() == ["delivered"]

    clock.advance(120)
    session = add_period(capture, clock, session, 3)
    moving.run_due()
    clock.advance(120)
    session = add_period(capture, clock, session, 7)
    moving.run_due()
    clock.advance(1)
    session = stop(capture, clock, session)
    moving.run_until_idle()

    assert calls(receiver) == [("PUT", PATH), ("PATCH", PATH), ("PATCH", PATH), ("PATCH", PATH)]
    put, first, second, final = (r.body for r in receiver.requests)
    assert put["id"] == "S1" and put["status"] == "ACTIVE" and put["cdr_token"] == cdr_token()
    assert "charging_periods" not in put
    assert set(first) == {"charging_periods", "kwh", "last_updated"} and first["kwh"] == 3
    assert [p["dimensions"][0]["volume"] for p in first["charging_periods"]] == [3]
    assert [p["dimensions"][0]["volume"] for p in second["charging_periods"]] == [7]  # only the new period
    assert set(final) == {"end_date_time", "status", "last_updated"} and final["status"] == "COMPLETED"
    assert final["last_updated"].startswith(str(session.last_updated.date()))
    headers = receiver.requests[0].headers
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == ("NL", "EXA")
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == ("DE", "EMP")
    assert other_receiver.requests == []
    assert not OutboxDelivery.objects.exclude(partner=owner).exists()


def test_progress_patches_are_paced_but_never_dropped_and_the_final_state_goes_at_once(
    our_cpo,
    clock,
    owner,
    receiver,
    moving,
    django_capture_on_commit_callbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    session = start(capture, clock)
    moving.run_due()  # PUT at t0
    t0 = clock.now

    clock.advance(10)
    session = add_period(capture, clock, session, 1)
    assert moving.run_due() == []  # paced: not before t0 + 60 s
    delivery = OutboxDelivery.objects.get(state=OutboxState.PENDING)
    assert delivery.next_attempt_at == t0 + timedelta(seconds=60)
    assert (delivery.pk, 50.0) in [(pk, round(countdown)) for pk, countdown in moving.scheduled]

    clock.to(t0 + timedelta(seconds=61))
    assert moving.run_due() == ["delivered"]  # PATCH #1 at t0 + 61
    clock.advance(5)
    session = add_period(capture, clock, session, 2, cost="0.50")
    clock.advance(5)
    session = add_period(capture, clock, session, 3, cost="0.75")
    assert moving.run_due() == []
    clock.advance(5)
    stop(capture, clock, session)  # the final state is not paced: it takes the owed progress along at once
    assert moving.run_due() == ["delivered"]

    assert [r.method for r in receiver.requests] == ["PUT", "PATCH", "PATCH"]
    last = receiver.requests[-1].body
    assert [p["dimensions"][0]["volume"] for p in last["charging_periods"]] == [2, 3]
    assert (last["kwh"], last["total_cost"], last["status"]) == (3, {"excl_vat": 0.75}, "COMPLETED")


def test_a_failed_patch_is_followed_by_a_put_of_the_whole_session(
    our_cpo,
    clock,
    owner,
    receiver,
    moving,
    django_capture_on_commit_callbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    session = start(capture, clock)
    moving.run_due()
    clock.advance(120)
    session = add_period(capture, clock, session, 4)
    receiver.fail(503, times=1)

    assert moving.run_due() == ["retry"]
    moving.run_until_idle()

    assert [r.method for r in receiver.requests] == ["PUT", "PATCH", "PUT"]
    retry = receiver.requests[-1].body
    assert retry["id"] == "S1" and retry["kwh"] == 4 and len(retry["charging_periods"]) == 1

    clock.advance(120)
    session = add_period(capture, clock, session, 5)  # the partner holds a certain copy again: back to PATCH
    moving.run_until_idle()
    assert receiver.requests[-1].method == "PATCH"
    assert [p["dimensions"][0]["volume"] for p in receiver.requests[-1].body["charging_periods"]] == [5]


def test_a_refused_patch_falls_back_to_a_put_at_once(
    our_cpo,
    clock,
    owner,
    receiver,
    moving,
    django_capture_on_commit_callbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    session = start(capture, clock)
    moving.run_due()
    clock.advance(1)
    stop(capture, clock, session)
    receiver.fail(404, times=1, ocpi_status=2000)  # the eMSP lost the session

    assert moving.run_due() == ["delivered"]
    assert [r.method for r in receiver.requests] == ["PUT", "PATCH", "PUT"]
    assert receiver.requests[-1].body["status"] == "COMPLETED"


def test_sessions_are_never_pushed_to_anyone_but_the_token_owner(
    our_cpo,
    clock,
    owner,
    bystander,
    receiver,
    other_receiver,
    moving,
    cpo_partner,
    django_capture_on_commit_callbacks,
) -> None:
    capture = django_capture_on_commit_callbacks
    session = start(capture, clock)
    with capture(execute=True):
        outbox_enqueue(module="sessions", object_id=session.pk, hint={"full": True}, partners=[bystander])
        received = ReceivedSessionFactory(received_from=cpo_partner.partner, cdr_token=cdr_token())
        outbox_enqueue(module="sessions", object_id=received.pk, hint={"full": True})  # audience: nobody
    results = moving.run_due()

    assert sorted(results) == ["delivered", "skipped"]
    assert [r.method for r in receiver.requests] == ["PUT"]
    assert other_receiver.requests == []
    assert not OutboxDelivery.objects.filter(object_id=received.pk).exists()


def test_no_push_when_the_owner_has_no_sessions_receiver(
    our_cpo,
    clock,
    receiver,
    moving,
    django_capture_on_commit_callbacks,
) -> None:
    partner_for(receiver, name="Locations only", party=("DE", "EMP"), modules=("locations",))
    start(django_capture_on_commit_callbacks, clock)
    assert OutboxDelivery.objects.count() == 0
    assert outbox_deliver(delivery_id=0) == "done"
    assert receiver.requests == []
