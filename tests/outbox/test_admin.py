"""Outbox admin: deliveries list (filters, search by object id, error shown, actions) and partner health."""

from __future__ import annotations

from typing import Any

import pytest

from locations.services import location_create
from partners.models import OutboxDelivery, OutboxState, Partner
from partners.outbox import outbox_stats, partner_list_with_outbox_counts
from tests.outbox.conftest import location_data, partner_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def deliveries(receiver, runner, django_capture_on_commit_callbacks) -> dict[str, Any]:
    partner = partner_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        ok = location_create(data=location_data("LOC1", evses=("E1",)))
    runner.run_due()
    receiver.fail(400, ocpi_status=2001)
    with django_capture_on_commit_callbacks(execute=True):
        bad = location_create(data=location_data("LOC2", evses=("E2",)))
    runner.run_due()
    with django_capture_on_commit_callbacks(execute=True):
        waiting = location_create(data=location_data("LOC3", evses=("E3",)))
    return {"partner": partner, "ok": ok, "bad": bad, "waiting": waiting}


def test_outbox_delivery_admin_changelist_filters_search_and_change_page(admin_client, deliveries) -> None:
    url = "/admin/partners/outboxdelivery/"
    response = admin_client.get(url)
    assert response.status_code == 200
    assert "HTTP 400" in response.content.decode()  # the error is shown in the list

    failed = OutboxDelivery.objects.get(state=OutboxState.FAILED)
    response = admin_client.get(url, {"state__exact": "FAILED", "module__exact": "locations"})
    assert list(response.context["cl"].result_list) == [failed]
    response = admin_client.get(url, {"q": str(deliveries["bad"].pk)})
    assert failed in response.context["cl"].result_list
    assert admin_client.get(url, {"q": "not-a-number"}).context["cl"].result_count == 0
    assert admin_client.get(f"{url}{failed.pk}/change/").status_code == 200


def test_outbox_delivery_admin_dead_letter_action(admin_client, deliveries) -> None:
    pending = OutboxDelivery.objects.get(state=OutboxState.PENDING)
    response = admin_client.post(
        "/admin/partners/outboxdelivery/",
        {"action": "action_dead_letter", "_selected_action": [pending.pk], "post": "yes"},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.state == OutboxState.DEAD
    assert pending.note == "dead-lettered by staff"


def test_actions_need_the_change_permission(client, deliveries, django_user_model) -> None:
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_outboxdelivery"))
    client.force_login(staff)
    response = client.get("/admin/partners/outboxdelivery/")
    assert response.status_code == 200
    assert "action_retry" not in response.content.decode()


def test_partner_state_and_sync_admin_pages(admin_client, deliveries) -> None:
    response = admin_client.get("/admin/partners/outboxpartnerstate/")
    assert response.status_code == 200
    row = response.context["cl"].result_list[0]
    assert (row.outbox_pending, row.outbox_delivered, row.outbox_failed) == (1, 1, 1)
    assert admin_client.get("/admin/partners/outboxpartnerstate/", {"q": "eMSP"}).status_code == 200
    assert admin_client.get(f"/admin/partners/outboxpartnerstate/{row.pk}/change/").status_code == 200
    response = admin_client.get("/admin/partners/outboxsync/", {"q": str(deliveries["ok"].pk)})
    assert response.context["cl"].result_count == 1
    sync = response.context["cl"].result_list[0]
    assert admin_client.get(f"/admin/partners/outboxsync/{sync.pk}/change/").status_code == 200


def test_outbox_stats_and_partner_counts(deliveries) -> None:
    partner = deliveries["partner"]
    stats = outbox_stats(partner)
    assert (stats["pending"], stats["delivered"], stats["failed"], stats["dead"]) == (1, 1, 1, 0)
    assert stats["last_success"] is not None
    annotated = partner_list_with_outbox_counts(Partner.objects.filter(pk=partner.pk)).get()
    assert (annotated.outbox_pending, annotated.outbox_delivered, annotated.outbox_failed, annotated.outbox_dead) == (
        1,
        1,
        1,
        0,
    )
    assert annotated.outbox_last_success == stats["last_success"]
