"""The staff dashboard (backoffice): figures, their admin links, staff only, linked from the admin index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from backoffice.dashboard import dashboard_figures
from partners.models import OutboxDelivery, Partner
from tests.sessions.factories import ChargingSessionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("staff", "", "pw"))
    return client


def test_dashboard_counts_and_links(staff: Client, hub: Any, emsp_partner: Any) -> None:
    now = timezone.now()
    ChargingSessionFactory(status="ACTIVE")
    ChargingSessionFactory(status="ACTIVE")
    ChargingSessionFactory(status="COMPLETED")
    for state, note in (("PENDING", ""), ("PENDING", "waiting for party FR/BBB: OFFLINE"), ("FAILED", "")):
        OutboxDelivery.objects.create(
            partner=hub.partner,
            module="sessions",
            object_id=OutboxDelivery.objects.count() + 1,
            state=state,
            note=note,
            next_attempt_at=now,
        )
    Partner.objects.create(name="Broken", state="ERROR")

    figures = dashboard_figures(now=now)
    page = staff.get("/admin/dashboard/")
    text = page.content.decode()

    assert page.status_code == 200
    assert figures["sessions_active"] == 2
    assert {label: n for label, n, _ in figures["outbox"]} == {
        "Pending": 2,
        "Waiting for a party behind a hub": 1,
        "Failed": 1,
        "Dead-lettered": 0,
    }
    assert {label: n for label, n, _ in figures["partner_states"]}["Connected"] == 2
    assert {s: n for s, n, _ in figures["client_infos"]}["CONNECTED"] == 4
    row = next(r for r in figures["partners"] if r["partner"] == hub.partner)
    assert (row["pending"], row["waiting"], row["failed"]) == (2, 1, 1)
    assert "/admin/charging_sessions/chargingsession/?status__exact=ACTIVE" in text
    assert "/admin/partners/outboxdelivery/?state__exact=FAILED" in text
    assert "/admin/partners/partner/?state__exact=ERROR" in text
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    assert f"/admin/cdrs/cdr/?{urlencode({'end_date_time__gte': month_start.isoformat()})}" in text.replace(
        "&amp;", "&"
    )
    for link in ("/admin/charging_sessions/chargingsession/?status__exact=ACTIVE", "/admin/partners/clientinfo/"):
        assert staff.get(link).status_code == 200


def test_dashboard_cdrs_this_month_and_evse_status(staff: Client, mocker: Any) -> None:
    from cdrs.services import cdr_create_from_session
    from tests.cdrs.factories import make_session, our_connector, our_parties, our_tariff
    from tests.locations.factories import EvseFactory, LocationFactory

    our_parties()
    our_tariff("T1")
    connector = our_connector(("T1",))
    now = datetime(2026, 3, 15, 12, tzinfo=UTC)
    cdr_create_from_session(session=make_session(connector, start=now - timedelta(days=2)))
    cdr_create_from_session(session=make_session(connector, start=now - timedelta(days=40)))

    EvseFactory(location=LocationFactory(country_code="BE", party_id="CPX", ocpi_id="THEIRS"))  # a partner's

    figures = dashboard_figures(now=now)

    assert figures["cdrs_month"] == 1
    assert [(status, n) for status, n, _ in figures["evse_statuses"]] == [(connector.evse.status, 1)]
    assert staff.get(figures["cdrs_month_url"]).status_code == 200
    assert staff.get(figures["evse_statuses"][0][2]).status_code == 200


def test_dashboard_is_for_staff_only_and_linked_from_the_admin_index(staff: Client) -> None:
    assert Client().get("/admin/dashboard/").status_code == 302  # to the login page
    index = staff.get("/admin/").content.decode()
    assert 'href="/admin/dashboard/"' in index
    assert "Partners" in index  # the default app list is still there
