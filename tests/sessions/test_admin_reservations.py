"""Issue 13: cancelling reservations from the admin needs the change permission and a confirmation; finished
sessions are read-only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from sessions.admin import ChargingSessionAdmin
from sessions.models import ChargingSession, Reservation
from tests.conftest import make_registered_partner

CHANGELIST = reverse("admin:charging_sessions_reservation_changelist")


@pytest.fixture
def reservation(db: Any) -> Reservation:
    partner = make_registered_partner("Reserver", [("EMSP", "DE", "RSV")]).partner
    return Reservation.objects.create(
        partner=partner,
        reservation_id="R-1",
        country_code="NL",
        party_id="EXA",
        location_id="LOC1",
        cdr_token={"uid": "T1", "type": "RFID", "contract_id": "DE-RSV-C1"},
        expiry_date=timezone.now() + timedelta(hours=1),
        status="ACTIVE",
    )


def _client(*codenames: str) -> Client:
    user = get_user_model().objects.create_user("staffer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def test_cancel_is_refused_to_a_view_only_user(reservation: Reservation) -> None:
    client = _client("view_reservation")
    assert "cancel_by_cpo" not in client.get(CHANGELIST).content.decode()
    with mock.patch("sessions.admin.reservation_cancel_by_cpo") as cancel:
        client.post(CHANGELIST, {"action": "cancel_by_cpo", "_selected_action": [reservation.pk], "post": "yes"})
    cancel.assert_not_called()


def test_cancel_confirms_first_then_runs(reservation: Reservation) -> None:
    client = _client("view_reservation", "change_reservation")
    selected = {"action": "cancel_by_cpo", "_selected_action": [reservation.pk]}
    with mock.patch("sessions.admin.reservation_cancel_by_cpo") as cancel:
        page = client.post(CHANGELIST, selected)
        assert b"Are you sure?" in page.content
        cancel.assert_not_called()
        client.post(CHANGELIST, {**selected, "post": "yes"})
    cancel.assert_called_once_with(reservation=reservation)


@pytest.mark.parametrize(("status", "editable"), [("ACTIVE", True), ("COMPLETED", False), ("INVALID", False)])
def test_finished_sessions_are_read_only(rf: Any, admin_user: Any, status: str, editable: bool) -> None:
    from django.contrib import admin

    model_admin = ChargingSessionAdmin(ChargingSession, admin.site)
    request = rf.get("/admin/")
    request.user = admin_user
    assert model_admin.has_change_permission(request, ChargingSession(status=status)) is editable
    assert model_admin.has_delete_permission(request, ChargingSession(status=status)) is False
