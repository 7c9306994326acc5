"""OCPP charge point models and admin (issue 16)."""

from __future__ import annotations

import pytest
from django.urls import reverse

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

    cp = ChargePoint.objects.get(identity="CP-1")
    url = reverse("admin:chargepoints_chargepoint_changelist")
    form = admin_client.post(url, {"action": "set_password", "_selected_action": [cp.pk]})
    assert form.status_code == 200 and b'name="password"' in form.content
    done = admin_client.post(url, {"action": "set_password", "_selected_action": [cp.pk], "password": "new-pass-123"})
    assert done.status_code == 302
    cp.refresh_from_db()
    assert cp.check_password("new-pass-123")
