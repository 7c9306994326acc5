"""Admin smoke tests: changelist, filters, search, change pages; received sessions read-only; our sessions
change through session_update (push to the token owner)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from partners.models import OutboxDelivery
from sessions.models import ChargingSession
from tests.conftest import make_registered_partner
from tests.sessions.factories import ChargingSessionFactory, ReceivedSessionFactory, cdr_token

CHANGELIST = reverse("admin:charging_sessions_chargingsession_changelist")


@pytest.fixture
def staff(client: Any, db: Any) -> Any:
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def owner(db: Any) -> Any:
    return make_registered_partner(
        "Token owner", [("EMSP", "DE", "EMP")], [("sessions", "RECEIVER", "https://emsp.example.com/sessions")]
    ).partner


@pytest.fixture
def ours(our_cpo: Any, owner: Any) -> ChargingSession:
    return ChargingSessionFactory(
        ocpi_id="OURS-1",
        evse_uid="EVSE-A",
        location_id="LOC-A",
        cdr_token=cdr_token(uid="04CAFE"),
        token_owner_partner=owner,
    )


@pytest.fixture
def received(cpo_partner: Any) -> ChargingSession:
    return ReceivedSessionFactory(
        ocpi_id="THEIRS-1", evse_uid="EVSE-B", location_id="LOC-B", received_from=cpo_partner.partner
    )


def results(response: Any) -> set[ChargingSession]:
    assert response.status_code == 200
    return set(response.context["cl"].result_list)


def test_session_admin_changelist_search_and_filters(staff: Any, ours: ChargingSession, received: Any) -> None:
    assert results(staff.get(CHANGELIST)) == {ours, received}
    for term, expected in (("ours-1", ours), ("04CAFE", ours), ("EVSE-B", received)):
        assert results(staff.get(CHANGELIST, {"q": term})) == {expected}, term
    filters = {
        "status": ("ACTIVE", {ours, received}),
        "ownership": ("received", {received}),
        "party": ("NL/EXA", {ours}),
        "location_id": ("LOC-B", {received}),
        "start_date_time__gte": ("2024-01-01 00:00:00+00:00", {ours, received}),
    }
    for name, (value, expected) in filters.items():
        assert results(staff.get(CHANGELIST, {name: value})) == expected, name
    assert results(staff.get(CHANGELIST, {"ownership": "ours"})) == {ours}


def test_session_admin_received_session_is_read_only(staff: Any, received: ChargingSession) -> None:
    url = reverse("admin:charging_sessions_chargingsession_change", args=[received.pk])
    page = staff.get(url)
    assert page.status_code == 200
    assert 'name="status"' not in page.content.decode()

    staff.post(url, {"status": "INVALID"})
    received.refresh_from_db()
    assert received.status == "ACTIVE"


def test_session_admin_our_session_changes_through_the_service(staff: Any, ours: ChargingSession) -> None:
    url = reverse("admin:charging_sessions_chargingsession_change", args=[ours.pk])
    page = staff.get(url).content.decode()
    assert 'name="status"' in page and 'name="kwh"' not in page and 'name="cdr_token"' not in page
    before = ours.last_updated

    response = staff.post(
        url,
        {
            "status": "INVALID",
            "end_date_time_0": "2024-01-01",
            "end_date_time_1": "11:00:00",
            "total_cost_excl_vat": "1.50",
            "total_cost_incl_vat": "",
            "meter_id": "",
            "authorization_reference": "",
        },
    )

    assert response.status_code == 302
    ours.refresh_from_db()
    assert ours.status == "INVALID" and ours.total_cost_excl_vat == Decimal("1.5")
    assert ours.last_updated > before
    [delivery] = OutboxDelivery.objects.filter(module="sessions", object_id=ours.pk)
    assert delivery.hint == {"fields": ["end_date_time", "last_updated", "status", "total_cost"]}


def test_session_admin_completed_session_is_read_only(staff: Any, ours: ChargingSession) -> None:
    """Issue 13: a COMPLETED session is history; the admin refuses a change (it would also be refused by
    session_update: a completed session cannot become active again)."""
    ChargingSession.objects.filter(pk=ours.pk).update(status="COMPLETED")
    url = reverse("admin:charging_sessions_chargingsession_change", args=[ours.pk])
    data = {
        "status": "ACTIVE",
        "end_date_time_0": "",
        "end_date_time_1": "",
        "total_cost_excl_vat": "",
        "total_cost_incl_vat": "",
        "meter_id": "",
        "authorization_reference": "",
    }

    page = staff.get(url)
    assert page.status_code == 200 and b'name="_save"' not in page.content  # view only
    response = staff.post(url, data, follow=True)

    assert response.status_code == 403
    ours.refresh_from_db()
    assert ours.status == "COMPLETED"


def test_session_admin_has_no_add_or_delete(staff: Any, ours: ChargingSession) -> None:
    assert staff.get(reverse("admin:charging_sessions_chargingsession_add")).status_code == 403
    assert staff.get(reverse("admin:charging_sessions_chargingsession_delete", args=[ours.pk])).status_code == 403
