"""StatusNotification of connector 0 (OCPP 1.6: the whole charge point): Unavailable / Faulted there make every
EVSE of the charge point INOPERATIVE / OUTOFORDER (pushed to partners); Available there gives each EVSE back
the last status of its own connector."""

from __future__ import annotations

from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from chargepoints.models import ChargePoint, ChargePointConnector
from locations.models import EVSE
from tests.chargepoints.ocpp.harness import Connected, ServerThread
from tests.conftest import make_registered_partner
from tests.fake_partner import FakePartner

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def statuses() -> dict[str, str]:
    return dict(EVSE.objects.filter(uid__in=["EVSE-A", "EVSE-B"]).values_list("uid", "status"))


def status(connector_id: int, value: str) -> call16.StatusNotification:
    return call16.StatusNotification(connector_id=connector_id, error_code="NoError", status=value)


@pytest.fixture
def two_evses(charge_point: ChargePoint) -> ChargePoint:
    """CP-1 connector 1 = EVSE-A (fixture), connector 2 = EVSE-B."""
    evse_b = EVSE.objects.get(uid="EVSE-B")
    ChargePointConnector.objects.create(
        charge_point=charge_point, ocpp_evse_id=2, evse=evse_b, connector=evse_b.connectors.first()
    )
    return charge_point


@pytest.fixture
def locations_receiver(transactional_db: Any) -> Any:
    fake = FakePartner()
    registered = make_registered_partner(
        "Roaming partner", [("EMSP", "DE", "LOC")], [("locations", "RECEIVER", fake.url("locations", "RECEIVER"))]
    )
    fake.valid_tokens.add(registered.partner.outbound_token)
    yield fake
    fake.stop()


def test_connector_zero_blocks_and_restores_every_evse(
    ocpp_server: ServerThread, two_evses: ChargePoint, locations_receiver: FakePartner
) -> None:
    cp = Connected(ocpp_server, "CP-1", "ocpp1.6")
    try:
        cp.call(status(1, "Available"))
        cp.call(status(2, "Preparing"))
        assert statuses() == {"EVSE-A": "AVAILABLE", "EVSE-B": "CHARGING"}

        cp.call(status(0, "Unavailable"))  # the whole charge point
        assert statuses() == {"EVSE-A": "INOPERATIVE", "EVSE-B": "INOPERATIVE"}
        cp.call(status(1, "Available"))  # a connector's own status while blocked: remembered, not applied
        assert statuses() == {"EVSE-A": "INOPERATIVE", "EVSE-B": "INOPERATIVE"}

        cp.call(status(0, "Faulted"))
        assert statuses() == {"EVSE-A": "OUTOFORDER", "EVSE-B": "OUTOFORDER"}
        assert ChargePoint.objects.get().station_status == "Faulted"

        cp.call(status(0, "Available"))  # lifted: each EVSE's own last status
        assert statuses() == {"EVSE-A": "AVAILABLE", "EVSE-B": "CHARGING"}
        assert dict(ChargePointConnector.objects.values_list("ocpp_evse_id", "ocpp_status")) == {
            1: "Available",
            2: "Preparing",
        }
    finally:
        cp.close()

    # every change reached the partner's Locations Receiver (a PUT of the Location, then EVSE PATCHes)
    seen: dict[str, list[str]] = {"EVSE-A": [], "EVSE-B": []}
    for r in locations_receiver.requests:
        body = r.body if isinstance(r.body, dict) else {}
        states = {e["uid"]: e["status"] for e in body.get("evses", [])}
        for uid in seen:
            if r.path.rstrip("/").endswith(f"/{uid}") and "status" in body:
                states[uid] = body["status"]
            if uid in states and (not seen[uid] or seen[uid][-1] != states[uid]):
                seen[uid].append(states[uid])
    assert seen["EVSE-A"][-3:] == ["INOPERATIVE", "OUTOFORDER", "AVAILABLE"], locations_receiver.requests
    assert seen["EVSE-B"][-4:] == ["CHARGING", "INOPERATIVE", "OUTOFORDER", "CHARGING"]


def test_v201_evse_zero_is_the_whole_station(ocpp_server: ServerThread, two_evses: ChargePoint) -> None:
    """2.0.1 has no connector 0; a station that reports evseId 0 is read the same way."""

    def status201(evse_id: int, value: str) -> call201.StatusNotification:
        return call201.StatusNotification(
            timestamp="2026-03-02T10:00:00Z", connector_status=value, evse_id=evse_id, connector_id=evse_id and 1
        )

    cp = Connected(ocpp_server, "CP-1", "ocpp2.0.1")
    try:
        cp.call(status201(1, "Occupied"))
        cp.call(status201(2, "Available"))
        cp.call(status201(0, "Faulted"))
        assert statuses() == {"EVSE-A": "OUTOFORDER", "EVSE-B": "OUTOFORDER"}
        cp.call(status201(0, "Available"))
        assert statuses() == {"EVSE-A": "CHARGING", "EVSE-B": "AVAILABLE"}
    finally:
        cp.close()


@pytest.mark.django_db
def test_a_repeated_status_notification_is_one_query_and_changes_nothing(charge_point: ChargePoint) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chargepoints.ocpp_gateway import handlers
    from locations.models import EVSE
    from partners.models import OutboxDelivery

    assert handlers.status("CP-1", evse_id=1, connector_id=1, ocpp_status="Faulted") == "OUTOFORDER"
    evse = EVSE.objects.get(uid="EVSE-A")
    deliveries = OutboxDelivery.objects.count()
    with CaptureQueriesContext(connection) as queries:
        assert handlers.status("CP-1", evse_id=1, connector_id=1, ocpp_status="Faulted") == "OUTOFORDER"
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1, statements  # the mapping with its EVSE and charge point: nothing to write
    assert statements[0].startswith("SELECT")
    after = EVSE.objects.get(uid="EVSE-A")
    assert (after.status, after.last_updated) == ("OUTOFORDER", evse.last_updated)
    assert OutboxDelivery.objects.count() == deliveries

    # a change is still written: the same status for a different connector state, then a new status
    assert handlers.status("CP-1", evse_id=1, connector_id=1, ocpp_status="Available") == "AVAILABLE"
    assert EVSE.objects.get(uid="EVSE-A").status == "AVAILABLE"
    # the EVSE changed behind the charger's back (a session, an admin edit): the same OCPP status is applied again
    EVSE.objects.filter(uid="EVSE-A").update(status="INOPERATIVE")
    assert handlers.status("CP-1", evse_id=1, connector_id=1, ocpp_status="Available") == "AVAILABLE"
    assert EVSE.objects.get(uid="EVSE-A").status == "AVAILABLE"
