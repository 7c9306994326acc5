"""Tariffs through the outbox: PUT on create/change, DELETE on delete (tariffs.md 3)."""

from __future__ import annotations

import pytest

from partners.models import OutboxDelivery, OutboxState
from tariffs.services import tariff_create, tariff_delete, tariff_update
from tests.outbox.conftest import partner_for

pytestmark = pytest.mark.django_db


def tariff_data(price: str = "0.25") -> dict:
    return {
        "country_code": "NL",
        "party_id": "EXA",
        "ocpi_id": "T1",
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": price, "step_size": 1}]}],
    }


def test_tariff_is_put_then_put_again_then_deleted(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner_for(receiver, modules=("tariffs",))
    with django_capture_on_commit_callbacks(execute=True):
        tariff = tariff_create(data=tariff_data())
    runner.run_due()
    with django_capture_on_commit_callbacks(execute=True):
        tariff = tariff_update(tariff=tariff, data=tariff_data("0.30"))
    runner.run_due()
    with django_capture_on_commit_callbacks(execute=True):
        tariff_delete(tariff=tariff)
    runner.run_due()

    assert [(r.method, r.path) for r in receiver.requests] == [
        ("PUT", "/ocpi/emsp/2.2.1/tariffs/NL/EXA/T1"),
        ("PUT", "/ocpi/emsp/2.2.1/tariffs/NL/EXA/T1"),
        ("DELETE", "/ocpi/emsp/2.2.1/tariffs/NL/EXA/T1"),
    ]
    assert receiver.requests[0].body["id"] == "T1"
    assert str(receiver.requests[1].body["elements"][0]["price_components"][0]["price"]) in ("0.3", "0.30")
    assert not OutboxDelivery.objects.exclude(state=OutboxState.DELIVERED).exists()


def test_tariff_deleted_before_delivery_is_never_sent(receiver, runner, django_capture_on_commit_callbacks) -> None:
    partner_for(receiver, modules=("tariffs",))
    with django_capture_on_commit_callbacks(execute=True):
        tariff = tariff_create(data=tariff_data())
        tariff_delete(tariff=tariff)
    assert runner.run_due() == ["skipped"]
    assert receiver.requests == []
