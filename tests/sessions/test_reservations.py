"""The end of a reservation that is not used (sessions/reservations.py): expiry by beat and cancellation by us,
over the Commands Receiver with the simulator and a live loopback eMSP (tests.fake_partner.FakePartner)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from sessions.models import CommandRequest, Reservation
from sessions.reservations import reservation_cancel_by_cpo, reservation_expire_due
from tests.sessions import test_gateway_fixtures as fixtures
from tests.sessions.test_commands_receiver import reserve_body, results, send, start_body
from tests.sessions.test_gateway_fixtures import evse

pytestmark = pytest.mark.django_db

emsp = fixtures.emsp
fake_emsp = fixtures.fake_emsp
fast_gateway = fixtures.fast_gateway
site = fixtures.site


@pytest.fixture
def capture(django_capture_on_commit_callbacks: Any) -> Any:
    return django_capture_on_commit_callbacks


@pytest.fixture
def reservation(site: Any, emsp: Any, fake_emsp: Any, capture: Any) -> Reservation:
    answer = send(capture, emsp.client(), "RESERVE_NOW", reserve_body(fake_emsp))
    assert answer["data"]["result"] == "ACCEPTED"
    reservation = Reservation.objects.get()
    assert (reservation.status, reservation.session.status, evse("EVSE-A").status) == (
        "ACTIVE",
        "RESERVATION",
        "RESERVED",
    )
    return reservation


def test_an_unused_reservation_expires_and_frees_the_evse(
    reservation: Reservation, fake_emsp: Any, capture: Any
) -> None:
    assert reservation_expire_due(now=reservation.expiry_date - timedelta(seconds=1)) == 0

    with capture(execute=True):
        assert reservation_expire_due(now=reservation.expiry_date + timedelta(seconds=1)) == 1
    assert reservation_expire_due(now=reservation.expiry_date + timedelta(minutes=5)) == 0  # once

    reservation.refresh_from_db()
    assert reservation.status == "EXPIRED"
    session = reservation.session
    assert session.status == "COMPLETED"  # sessions.md 1: a reservation not used ends COMPLETED
    assert session.end_date_time == reservation.expiry_date
    assert evse("EVSE-A").status == "AVAILABLE"
    # The eMSP got the reservation's session and its end (the outbox pushes, eager in tests).
    pushed = [r.body for r in fake_emsp.requests if "/sessions/" in r.path]
    assert pushed and pushed[-1].get("status") == "COMPLETED"


def test_a_used_reservation_does_not_expire(reservation: Reservation, emsp: Any, fake_emsp: Any, capture: Any) -> None:
    send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp))
    reservation.refresh_from_db()
    assert reservation.status == "USED"

    assert reservation_expire_due(now=reservation.expiry_date + timedelta(hours=1)) == 0
    reservation.refresh_from_db()
    assert (reservation.status, reservation.session.status) == ("USED", "ACTIVE")
    assert evse("EVSE-A").status == "CHARGING"


def test_cancelled_by_us_the_emsp_gets_canceled_reservation(
    reservation: Reservation, fake_emsp: Any, capture: Any
) -> None:
    with capture(execute=True):
        reservation_cancel_by_cpo(reservation=reservation, reason="Road works")

    reservation.refresh_from_db()
    assert (reservation.status, reservation.session.status) == ("CANCELLED", "COMPLETED")
    assert evse("EVSE-A").status == "AVAILABLE"
    assert results(fake_emsp)[-1] == (
        "/results/RESERVE_NOW/1",
        {"result": "CANCELED_RESERVATION", "message": [{"language": "en", "text": "Road works"}]},
    )
    command = CommandRequest.objects.get(command="RESERVE_NOW")
    assert (command.result, command.posted_at is not None) == ("CANCELED_RESERVATION", True)
    with pytest.raises(ValidationError, match="CANCELLED, not ACTIVE"):
        reservation_cancel_by_cpo(reservation=reservation)
    assert reservation_expire_due(now=timezone.now() + timedelta(days=1)) == 0


def test_admin_cancel_action(admin_client: Any, reservation: Reservation, fake_emsp: Any, capture: Any) -> None:
    changelist = reverse("admin:charging_sessions_reservation_changelist")

    with capture(execute=True):
        response = admin_client.post(
            changelist, {"action": "cancel_by_cpo", "_selected_action": [reservation.pk], "post": "yes"}, follow=True
        )

    assert response.status_code == 200
    assert "Cancelled 1 reservation" in response.content.decode()
    reservation.refresh_from_db()
    assert reservation.status == "CANCELLED"
    assert results(fake_emsp)[-1][1]["result"] == "CANCELED_RESERVATION"
    again = admin_client.post(
        changelist, {"action": "cancel_by_cpo", "_selected_action": [reservation.pk], "post": "yes"}, follow=True
    )
    assert "not ACTIVE" in again.content.decode()


def test_beat_runs_the_expiry() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["reservation-expire-due"]
    assert (entry["task"], entry["schedule"]) == ("sessions.tasks.reservation_expire_due", 30.0)
