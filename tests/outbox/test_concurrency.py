"""Row-level races on PostgreSQL: concurrent enqueues coalesce, concurrent tasks send a delivery once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from locations.services import location_create
from partners.models import OutboxDelivery, OutboxState
from partners.outbox import outbox_deliver, outbox_enqueue
from tests.outbox.conftest import location_data, partner_for

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent transactions on row locks")


def in_threads(count: int, work: Callable[[], Any]) -> list[Any]:
    results: list[Any] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_enqueues_of_one_object_coalesce_into_one_open_delivery(receiver, runner) -> None:
    partner = partner_for(receiver)
    location = location_create(data=location_data())
    OutboxDelivery.objects.all().delete()

    in_threads(
        6,
        lambda: outbox_enqueue(
            module="locations", object_id=location.pk, hint={"evse_uid": "EVSE1", "fields": ["status"]}
        ),
    )
    (row,) = OutboxDelivery.objects.filter(partner=partner, state=OutboxState.PENDING)
    assert row.revision == 6
    assert row.hint == {"evse_uid": "EVSE1", "fields": ["status"]}


def test_concurrent_tasks_for_one_delivery_send_it_once(receiver, runner) -> None:
    partner_for(receiver, timeout_seconds=3.0)
    location = location_create(data=location_data())
    delivery = OutboxDelivery.objects.get(object_id=location.pk)
    receiver.hang()
    timer = threading.Timer(0.5, receiver.heal)  # the one request in flight is answered after 0.5 s
    timer.start()

    results = in_threads(4, lambda: outbox_deliver(delivery_id=delivery.pk))
    timer.join()

    assert results.count("delivered") == 1
    assert set(results) <= {"delivered", "busy", "done"}  # "done": a thread that came after the send
    assert len(receiver.requests) == 1
