"""Admin of commands, reservations and charging profile requests: smoke tests, and the Send-a-command form
(our eMSP sends to our own CPO through the live server)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from sessions.models import ChargingProfileRequest, CommandRequest, Reservation
from tests.sessions import test_gateway_fixtures as fixtures
from tests.sessions.test_gateway_fixtures import OUR_TOKEN

# Shared fixtures (tests/sessions/conftest.py belongs to the sessions module's own tests).
fast_gateway = fixtures.fast_gateway
loopback = fixtures.loopback
site = fixtures.site


@pytest.fixture
def staff(client: Any, db: Any) -> Any:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def test_send_a_command_form_then_the_command_pages(staff: Any, loopback: Any) -> None:
    add = reverse("admin:charging_sessions_commandrequest_add")
    assert b"Send a command" in staff.get(add).content

    response = staff.post(
        add,
        {
            "partner": loopback.partner.pk,
            "command": "START_SESSION",
            "location_id": "LOCG",
            "evse_uid": "EVSE-A",
            "token_uid": OUR_TOKEN,
            "post": "yes",  # confirmed (issue 13: the first POST shows a confirmation page)
        },
        follow=True,
    )

    sent = CommandRequest.objects.get(direction="SENT")
    assert (sent.response_result, sent.result) == ("ACCEPTED", "ACCEPTED")
    assert b"CommandResponse ACCEPTED" in response.content
    missing = staff.post(add, {"partner": loopback.partner.pk, "command": "STOP_SESSION", "post": "yes"})
    assert b"is required for STOP_SESSION" in missing.content
    for model in (CommandRequest, Reservation, ChargingProfileRequest):
        name = model._meta.model_name
        changelist = reverse(f"admin:charging_sessions_{name}_changelist")
        assert staff.get(changelist).status_code == 200
        assert staff.get(changelist, {"q": "LOCG"}).status_code == 200
    for command in CommandRequest.objects.all():
        page = staff.get(reverse("admin:charging_sessions_commandrequest_change", args=[command.pk]))
        assert page.status_code == 200


def test_reservation_and_profile_pages(staff: Any, site: Any, emsp_partner: Any) -> None:
    from datetime import UTC, datetime

    reservation = Reservation.objects.create(
        partner=emsp_partner.partner,
        reservation_id="R1",
        country_code="NL",
        party_id="EXA",
        location_id="LOCG",
        cdr_token={"country_code": "DE", "party_id": "EMP", "uid": "X", "type": "RFID", "contract_id": "C"},
        expiry_date=datetime(2030, 1, 1, tzinfo=UTC),
    )
    request = ChargingProfileRequest.objects.create(
        uid="u1",
        partner=emsp_partner.partner,
        action="GET",
        session_id="S1",
        response_url="https://x",
        response_result="UNKNOWN_SESSION",
    )

    assert staff.get(reverse("admin:charging_sessions_reservation_change", args=[reservation.pk])).status_code == 200
    assert (
        staff.get(reverse("admin:charging_sessions_chargingprofilerequest_change", args=[request.pk])).status_code
        == 200
    )
    assert staff.get(reverse("admin:charging_sessions_reservation_add")).status_code == 403
