"""OCPP charge point models and admin (issue 16)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from django.utils import timezone

from chargepoints.models import ChargePoint, OcppMessage

pytestmark = pytest.mark.django_db


def test_password_is_hashed_and_checked():
    cp = ChargePoint(identity="CP-1")
    cp.set_password("s3cret-pass")
    cp.save()
    assert "s3cret-pass" not in cp.password_hash
    assert cp.check_password("s3cret-pass")
    assert not cp.check_password("wrong")
    assert not ChargePoint(identity="CP-2").check_password("")


def test_password_uses_the_charge_point_hasher_and_old_hashes_still_verify(settings: Any) -> None:
    """Salted PBKDF2 at a connection's cost (chargepoints/hashers.py), not a staff login's; a hash made by Django's
    default hasher before keeps working."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, identify_hasher

    from ocpi_platform.settings import base

    settings.PASSWORD_HASHERS = base.PASSWORD_HASHERS  # the production list (tests hash staff passwords with MD5)
    cp = ChargePoint(identity="CP-1")
    cp.set_password("a-machine-secret-0123")
    algorithm, iterations, salt, _ = cp.password_hash.split("$")
    assert (algorithm, int(iterations)) == ("pbkdf2_sha256_chargepoint", 20_000)
    assert identify_hasher(cp.password_hash).algorithm == algorithm
    again = ChargePoint(identity="CP-2")
    again.set_password("a-machine-secret-0123")
    assert again.password_hash.split("$")[2] != salt  # salted
    old = PBKDF2PasswordHasher()
    cp.password_hash = old.encode("a-machine-secret-0123", old.salt(), 1000)
    assert cp.check_password("a-machine-secret-0123") and not cp.check_password("a-machine-secret-0124")


def test_the_admin_refuses_a_password_shorter_than_16_characters(admin_client: Any) -> None:
    cp = ChargePoint.objects.create(identity="CP-1")
    url = reverse("admin:chargepoints_chargepoint_changelist")
    response = admin_client.post(
        url, {"action": "set_password", "_selected_action": [cp.pk], "post": "yes", "password": "short-pass-123"}
    )
    assert response.status_code == 200 and b"at least 16 characters" in response.content
    cp.refresh_from_db()
    assert cp.password_hash == ""


def test_admin_lists_and_set_password_action(admin_client, django_assert_max_num_queries):
    for i in range(5):
        cp = ChargePoint.objects.create(identity=f"CP-{i}", connected=i % 2 == 0, firmware_version="1.2")
        OcppMessage.objects.create(
            charge_point=cp, direction="IN", message_type="CALL", action="Heartbeat", unique_id=str(i)
        )
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:chargepoints_chargepoint_changelist"))
    assert response.status_code == 200 and b"CP-4" in response.content
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:chargepoints_ocppmessage_changelist"))
    assert response.status_code == 200 and b"Heartbeat" in response.content


def test_set_password_asks_for_confirmation_then_the_password(admin_client: Any) -> None:
    cp = ChargePoint.objects.create(identity="CP-1")
    cp.set_password("old-pass-123")
    cp.save()
    url = reverse("admin:chargepoints_chargepoint_changelist")
    selected = {"action": "set_password", "_selected_action": [cp.pk]}

    confirm = admin_client.post(url, selected)  # 1: the confirmation page, nothing changed
    assert confirm.status_code == 200 and b"Are you sure?" in confirm.content
    assert b'name="post" value="yes"' in confirm.content and b'name="password"' not in confirm.content
    form = admin_client.post(url, {**selected, "post": "yes"})  # 2: the password form
    assert form.status_code == 200 and b'name="password"' in form.content
    assert b'name="post" value="yes"' in form.content
    sneaky = admin_client.post(url, {**selected, "password": "new-password-123456"})  # no confirmation: not set
    assert sneaky.status_code == 200 and b"Are you sure?" in sneaky.content
    cp.refresh_from_db()
    assert cp.check_password("old-pass-123")

    done = admin_client.post(url, {**selected, "post": "yes", "password": "new-password-123456"})  # 3: set
    assert done.status_code == 302
    cp.refresh_from_db()
    assert cp.check_password("new-password-123456") and not cp.check_password("old-pass-123")


def test_set_password_needs_the_change_permission(client: Any) -> None:
    cp = ChargePoint.objects.create(identity="CP-1")
    cp.set_password("old-pass-123")
    cp.save()
    viewer = User.objects.create_user("viewer", password="pw-viewer-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_chargepoint"))
    client.force_login(viewer)
    url = reverse("admin:chargepoints_chargepoint_changelist")
    page = client.get(url)
    assert page.status_code == 200 and b"set_password" not in page.content
    response = client.post(
        url, {"action": "set_password", "_selected_action": [cp.pk], "post": "yes", "password": "new-password-123456"}
    )
    assert response.status_code in (200, 302)
    cp.refresh_from_db()
    assert cp.check_password("old-pass-123")


def test_online_is_connected_and_recently_heard_from(settings: Any, admin_client: Any) -> None:
    """A charge point silent for more than OCPP_STALE_HEARTBEATS heartbeat intervals is shown offline even
    when its `connected` flag was left set (computed at read time)."""
    settings.OCPP_HEARTBEAT_INTERVAL, settings.OCPP_STALE_HEARTBEATS = 300, 3
    now = timezone.now()
    ChargePoint.objects.create(identity="CP-FRESH", connected=True, last_seen_at=now - timedelta(minutes=14))
    ChargePoint.objects.create(identity="CP-STALE", connected=True, last_seen_at=now - timedelta(minutes=16))
    ChargePoint.objects.create(identity="CP-NEVER", connected=True)
    ChargePoint.objects.create(identity="CP-GONE", connected=False, last_seen_at=now)
    online = {cp.identity: cp.online for cp in ChargePoint.objects.with_online()}
    assert online == {"CP-FRESH": True, "CP-STALE": False, "CP-NEVER": False, "CP-GONE": False}
    assert [cp.identity for cp in ChargePoint.objects.online()] == ["CP-FRESH"]
    assert {cp.identity: cp.is_online for cp in ChargePoint.objects.all()} == online
    page = admin_client.get(reverse("admin:chargepoints_chargepoint_changelist") + "?o=2")
    assert page.status_code == 200
