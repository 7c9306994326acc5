"""Issue 13: the Send-a-command page is rendered with the admin's request context (CSRF token, the user in
the header), needs charging_sessions.add_commandrequest, and asks for confirmation before sending."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from sessions.models import CommandRequest
from tests.conftest import make_registered_partner

ADD = reverse("admin:charging_sessions_commandrequest_add")


def _token(html: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def staff(db: Any) -> Client:
    user = get_user_model().objects.create_superuser("opsperson", "ops@example.com", "pw")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_the_page_has_a_csrf_token_and_the_user(staff: Client) -> None:
    html = staff.get(ADD).content.decode()
    assert 'name="csrfmiddlewaretoken"' in html
    assert "opsperson" in html  # "Welcome, opsperson." in the header


def test_post_with_the_page_token_confirms_then_sends(staff: Client) -> None:
    partner = make_registered_partner("CPO with commands", [("CPO", "DE", "CMD")]).partner
    form = {"command": "STOP_SESSION", "session_id": "S-1"}
    with mock.patch("sessions.admin.partner_list_with_endpoint") as partners:
        partners.return_value = type(partner).objects.filter(pk=partner.pk)
        token = _token(staff.get(ADD).content.decode())
        assert staff.post(ADD, {**form, "partner": partner.pk}).status_code == 403  # no token: CSRF refuses

        with mock.patch("sessions.admin.command_send") as send:
            page = staff.post(ADD, {**form, "partner": partner.pk, "csrfmiddlewaretoken": token})
            assert page.status_code == 200
            assert b"Yes, send it" in page.content
            send.assert_not_called()  # the confirmation page first

            send.return_value = CommandRequest.objects.create(
                direction="SENT", partner=partner, command="STOP_SESSION", uid="u-1", response_result="ACCEPTED"
            )
            token = _token(page.content.decode())
            done = staff.post(ADD, {**form, "partner": partner.pk, "csrfmiddlewaretoken": token, "post": "yes"})
    assert done.status_code == 302
    send.assert_called_once()
    assert send.call_args.kwargs["session_id"] == "S-1"


def test_a_view_only_user_cannot_send(db: Any) -> None:
    viewer = get_user_model().objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_commandrequest"))
    client = Client()
    client.force_login(viewer)
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"command": "STOP_SESSION", "post": "yes"}).status_code == 403
