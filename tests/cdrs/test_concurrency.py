"""Concurrent replays on PostgreSQL: the same CDR posted twice at once, the same session billed twice at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from cdrs.models import Cdr
from cdrs.services import cdr_create_from_session, cdr_receive
from tests.cdrs.factories import example_cdr, make_session, our_connector, our_parties, our_tariff
from tests.cdrs.test_serializers import validated
from tests.conftest import make_registered_partner

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks and real concurrency (PostgreSQL)"),
]


def race(work: Callable[[], Any], threads: int = 4) -> list[Any]:
    barrier = threading.Barrier(threads)
    results: list[Any] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(work())
        except Exception as exc:  # noqa: BLE001 - reported through the results
            results.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    return results


def test_same_cdr_posted_concurrently_is_stored_once() -> None:
    our_parties()
    partner = make_registered_partner("CPO BE/BEC", [("CPO", "BE", "BEC")]).partner
    data = validated(example_cdr())

    results = race(lambda: cdr_receive(partner=partner, data=data))

    assert not [r for r in results if isinstance(r, Exception)]
    assert sorted(r.created for r in results) == [False, False, False, True]
    assert len({r.obj.pk for r in results}) == 1
    assert Cdr.objects.count() == 1


def test_same_session_billed_concurrently_gets_one_cdr(mocker: Any) -> None:
    mocker.patch("partners.outbox.outbox_enqueue")
    our_parties()
    our_tariff("T1")
    session = make_session(our_connector(("T1",)))

    results = race(lambda: cdr_create_from_session(session=session))

    assert not [r for r in results if isinstance(r, Exception)]
    assert len({cdr.pk for cdr in results}) == 1
    assert Cdr.objects.count() == 1
