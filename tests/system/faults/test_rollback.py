"""Fault 4: a change in a transaction that rolls back sends nothing (real worker, real broker).

Three rolled-back changes: a new Location plus an EVSE status change in a transaction that fails; a whole
charging session with its CDR in a transaction that fails; an EVSE status change in a savepoint that rolls back
inside a transaction that commits another change of the same Location (the commit's delivery row absorbed the
rolled-back change's hint: the savepoint must take that merge back too). A committed marker change follows;
once it and everything else has been delivered (beat run included), the partner got the committed name
change and nothing else: no request for the rolled-back Location, session or CDR, no rolled-back status,
and it holds exactly our state.

Time bound: 120 s (pytest-timeout); about 15 s on a 2-core machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from locations.api.serializers import location_to_ocpi
from locations.models import EVSE, Location
from locations.services import evse_set_status, location_create, location_update
from ocpi_platform.ocpi.renderers import dumps
from partners.models import OutboxDelivery
from sessions.models import ChargingSession
from tests.outbox.conftest import location_data
from tests.system.faults.conftest import complete_session, emsp_partner_on, make_sites, settle, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class Abort(Exception):
    pass


def in_failing_transaction(*changes: Callable[[], Any]) -> None:
    """Make the changes in one transaction (a savepoint when nested) that then fails and rolls back."""
    with transaction.atomic():
        for change in changes:
            change()
        raise Abort


@pytest.mark.timeout(120)
def test_rolled_back_changes_send_nothing(start_worker: Any, partner_rx: Any) -> None:
    worker = start_worker()
    partner = emsp_partner_on(partner_rx, timeout_seconds=1.0)
    site_a, site_b, marker = make_sites(3, evses=1)
    settle(30, worker=worker)
    before = len(partner_rx.requests)
    assert before == 3  # the three PUTs

    with pytest.raises(Abort):
        in_failing_transaction(
            lambda: location_create(data=location_data("ROLLEDBACK", evses=("RB-E1",))),
            lambda: evse_set_status(evse=EVSE.objects.get(location=site_a), status="OUTOFORDER"),
        )
    with pytest.raises(Abort):
        in_failing_transaction(
            lambda: complete_session(evse=EVSE.objects.get(location=site_b), partner=partner, number=1)
        )
    with transaction.atomic():
        location_update(location=site_b, data={"name": "Renamed"})
        with pytest.raises(Abort):  # a savepoint
            in_failing_transaction(lambda: evse_set_status(evse=EVSE.objects.get(location=site_b), status="BLOCKED"))
    evse_set_status(evse=EVSE.objects.get(location=marker), status="CHARGING")

    wait_until(
        lambda: any(r.body.get("status") == "CHARGING" for r in partner_rx.ok("PATCH")),
        30,
        f"the marker\n{worker.log()}",
    )
    settle(30, beat_every=0.5, worker=worker)

    later = partner_rx.requests[before:]
    sent = [(r.method, r.path, r.body) for r in later]
    assert not [s for s in sent if "ROLLEDBACK" in s[1] or "/sessions/" in s[1] or "/cdrs" in s[1]], sent
    assert not [s for s in sent if (s[2] or {}).get("status") in ("OUTOFORDER", "BLOCKED")], sent
    renamed = [s for s in sent if site_b.ocpi_id in s[1]]
    assert len(renamed) == 1
    assert renamed[0][2]["name"] == "Renamed"
    assert "evses" not in renamed[0][2] or all(e["status"] == "AVAILABLE" for e in renamed[0][2]["evses"])

    assert not Location.objects.filter(ocpi_id="ROLLEDBACK").exists()
    assert not ChargingSession.objects.exists()
    assert set(OutboxDelivery.objects.values_list("module", flat=True)) == {"locations"}
    held = partner_rx.copy().locations
    for location in Location.objects.prefetch_related("evses__connectors"):
        assert held[location.ocpi_id] == json.loads(dumps(location_to_ocpi(location))), location.ocpi_id
