"""Issue 13: outbox "Retry now" / dead-letter and the push actions need the change permission and show a
confirmation page before they run."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from partners.models import OutboxDelivery, OutboxState, PartnerState
from tests.conftest import make_registered_partner

OUTBOX = "/admin/partners/outboxdelivery/"
PARTNERS = "/admin/partners/partner/"

pytestmark = pytest.mark.django_db


def _user(*codenames: str) -> Client:
    user = get_user_model().objects.create_user("staffer", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def dead() -> OutboxDelivery:
    partner = make_registered_partner("Receiver", [("EMSP", "DE", "RCV")]).partner
    return OutboxDelivery.objects.create(
        partner=partner, module="locations", object_id=1, state=OutboxState.DEAD, next_attempt_at=timezone.now()
    )


def test_retry_now_is_refused_to_a_view_only_user(dead: OutboxDelivery) -> None:
    client = _user("view_outboxdelivery")
    assert "action_retry" not in client.get(OUTBOX).content.decode()
    with mock.patch("partners.admin_outbox.outbox_retry") as retry:
        client.post(OUTBOX, {"action": "action_retry", "_selected_action": [dead.pk], "post": "yes"})
    retry.assert_not_called()


def test_retry_now_confirms_first_then_runs(dead: OutboxDelivery) -> None:
    client = _user("view_outboxdelivery", "change_outboxdelivery")
    assert "action_retry" in client.get(OUTBOX).content.decode()
    selected = {"action": "action_retry", "_selected_action": [dead.pk]}
    with mock.patch("partners.admin_outbox.outbox_retry") as retry:
        page = client.post(OUTBOX, selected)
        assert page.status_code == 200 and b"Are you sure?" in page.content
        assert b"Retry now (failed or dead-lettered)" in page.content
        retry.assert_not_called()
        assert client.post(OUTBOX, {**selected, "post": "yes"}).status_code == 302
    retry.assert_called_once_with(delivery=dead)


@pytest.mark.parametrize(
    ("action", "modules"),
    [
        ("action_push_everything", None),
        ("action_push_locations", ["locations"]),
        ("action_push_tariffs", ["tariffs"]),
        ("action_push_tokens", ["tokens"]),
    ],
)
def test_push_actions_confirm_first_and_need_the_change_permission(action: str, modules: Any) -> None:
    partner = make_registered_partner("Pushed", [("EMSP", "DE", "PSH")]).partner
    assert partner.state == PartnerState.REGISTERED
    selected = {"action": action, "_selected_action": [partner.pk]}
    with mock.patch("partners.admin.partner_initial_sync", return_value={"locations": 1}) as sync:
        viewer = _user("view_partner")
        assert action not in viewer.get(PARTNERS).content.decode()
        viewer.post(PARTNERS, {**selected, "post": "yes"})
        sync.assert_not_called()

        get_user_model().objects.get(username="staffer").user_permissions.add(
            Permission.objects.get(codename="change_partner")
        )
        editor = Client()
        editor.force_login(get_user_model().objects.get(username="staffer"))
        page = editor.post(PARTNERS, selected)
        assert b"Are you sure?" in page.content and b"Pushed" in page.content
        sync.assert_not_called()
        editor.post(PARTNERS, {**selected, "post": "yes"})
    sync.assert_called_once_with(partner=partner, modules=modules)


@pytest.mark.parametrize("url", ["/admin/partners/partner/register/", "/admin/partners/partner/invite/"])
def test_register_and_invite_need_the_add_permission(url: str) -> None:
    viewer = _user("view_partner")
    assert viewer.get(url).status_code == 403
    assert viewer.post(url, {"name": "X"}).status_code == 403
    get_user_model().objects.get(username="staffer").user_permissions.add(
        Permission.objects.get(codename="add_partner")
    )
    assert viewer.get(url).status_code == 200
