"""Admin smoke tests: partners (list, change, invite, register), parties, message log; purge of old log rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from partners.models import MessageLog, Partner, PartnerState, PartnerToken, Party
from partners.services import message_log_purge
from tests.conftest import make_registered_partner

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    user = get_user_model().objects.create_superuser("staff", "", "pw")
    client = Client()
    client.force_login(user)
    return client


def test_partner_pages(staff: Client) -> None:
    registered = make_registered_partner(
        "Acme eMSP", [("EMSP", "DE", "EMP")], [("locations", "RECEIVER", "https://a/l")]
    )
    Partner.objects.create(name="Broken", state=PartnerState.ERROR, last_error="No mutual OCPI version")
    page = staff.get("/admin/partners/partner/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Acme eMSP" in text and "connected" in text and "error" in text and "EMSP DE/EMP" in text
    assert staff.get("/admin/partners/partner/?q=EMP").status_code == 200
    change = staff.get(f"/admin/partners/partner/{registered.partner.pk}/change/")
    assert change.status_code == 200
    assert "https://a/l" in change.content.decode()
    assert registered.token not in change.content.decode()


def test_invite_view_shows_token_once(staff: Client) -> None:
    assert staff.get("/admin/partners/partner/invite/").status_code == 200
    response = staff.post("/admin/partners/partner/invite/", {"name": "Newcomer"})
    assert response.status_code == 200
    assert "Token A" in response.content.decode()
    assert PartnerToken.objects.filter(partner__name="Newcomer", kind="A").count() == 1


def test_register_view_reports_failure_without_500(staff: Client) -> None:
    assert staff.get("/admin/partners/partner/register/").status_code == 200
    response = staff.post(
        "/admin/partners/partner/register/",
        {"name": "Nobody", "versions_url": "http://127.0.0.1:9/ocpi/versions", "token_a": "abc"},
    )
    assert response.status_code == 200
    assert "Registration failed" in response.content.decode()
    assert Partner.objects.get(name="Nobody").state == PartnerState.ERROR


def test_register_view_asks_for_the_ocpi_2_1_1_role(staff: Client, fake_partner: Any) -> None:
    """A 2.1.1-only partner: 2.1.1 credentials carry no role and we host a CPO and an eMSP, so staff must say which
    the partner is (Partner.ocpi211_role) before registering."""
    fake_partner.versions = ["2.1.1"]
    response = staff.post(
        "/admin/partners/partner/register/",
        {"name": "Legacy", "versions_url": fake_partner.versions_url, "token_a": fake_partner.token_a},
    )
    assert response.status_code == 200
    assert "Registration failed: OCPI 2.1.1 connections carry no roles" in response.content.decode()
    assert "&#x27;OCPI 2.1.1 role&#x27; (CPO or eMSP)" in response.content.decode()
    assert Partner.objects.get(name="Legacy").state == PartnerState.ERROR


def test_register_view_success(staff: Client, fake_partner: Any, live_server: Any, settings: Any) -> None:
    settings.OCPI_BASE_URL = live_server.url
    response = staff.post(
        "/admin/partners/partner/register/",
        {"name": "Fake", "versions_url": fake_partner.versions_url, "token_a": fake_partner.token_a},
    )
    assert response.status_code == 302
    assert Partner.objects.get(name="Fake").state == PartnerState.REGISTERED


def test_message_log_and_party_pages(staff: Client) -> None:
    MessageLog.objects.create(direction="IN", method="GET", url="/ocpi/versions", http_status=200, request_id="r-1")
    assert staff.get("/admin/partners/messagelog/").status_code == 200
    assert "r-1" not in staff.get("/admin/partners/messagelog/?q=unknown").content.decode()
    row = MessageLog.objects.get()
    assert staff.get(f"/admin/partners/messagelog/{row.pk}/change/").status_code == 200
    assert staff.get("/admin/partners/party/").status_code == 200
    party = Party.objects.first()
    assert staff.get(f"/admin/partners/party/{party.pk}/change/").status_code == 200


def test_message_log_purge_keeps_recent_rows() -> None:
    old = MessageLog.objects.create(direction="IN", method="GET", url="/old")
    MessageLog.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    MessageLog.objects.create(direction="IN", method="GET", url="/new")
    assert message_log_purge() == 1
    assert list(MessageLog.objects.values_list("url", flat=True)) == ["/new"]


@pytest.mark.parametrize("action", ["action_update_credentials", "action_unregister"])
def test_credential_actions_need_the_change_permission(action: str) -> None:
    """A view-only staff user neither sees nor runs the actions that rotate or revoke a partner's tokens."""
    from django.contrib.auth.models import Permission

    partner = make_registered_partner("Viewed", [("EMSP", "DE", "VWD")]).partner
    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_partner"))
    client = Client()
    client.force_login(viewer)

    assert action not in client.get("/admin/partners/partner/").content.decode()
    client.post("/admin/partners/partner/", {"action": action, "_selected_action": [partner.pk], "post": "yes"})

    partner.refresh_from_db()
    assert partner.state == PartnerState.REGISTERED
    assert PartnerToken.objects.filter(partner=partner).count() == 1


def test_unregister_shows_a_confirmation_page_first(admin_client: Any) -> None:
    """Issue 13: the first POST of the action only shows "Are you sure?"; confirming runs it."""
    partner = make_registered_partner("Confirmed", [("EMSP", "DE", "CNF")]).partner
    selected = {"action": "action_unregister", "_selected_action": [partner.pk]}

    confirmation = admin_client.post("/admin/partners/partner/", selected)
    assert b"Are you sure?" in confirmation.content
    assert b'name="post" value="yes"' in confirmation.content
    partner.refresh_from_db()
    assert partner.state == PartnerState.REGISTERED

    with mock.patch("partners.admin.services.partner_unregister") as unregister:
        admin_client.post("/admin/partners/partner/", {**selected, "post": "yes"})
    unregister.assert_called_once_with(partner=partner)
