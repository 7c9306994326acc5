from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chargepoints.models import ChargePoint, ChargePointConnector
from locations.models import Connector
from tests.chargepoints.ocpp.harness import PASSWORD, ServerThread
from tests.sessions import test_gateway_fixtures as fixtures

emsp = fixtures.emsp
emsp_token = fixtures.emsp_token
fake_emsp = fixtures.fake_emsp
fast_gateway = fixtures.fast_gateway
site = fixtures.site


@pytest.fixture
def ocpp_server(transactional_db: Any) -> Iterator[ServerThread]:
    srv = ServerThread()
    yield srv
    srv.stop()


@pytest.fixture
def charge_point(site: Any) -> ChargePoint:
    """CP-1: OCPP connector 1 (1.6) / EVSE 1 connector 1 (2.0.1) = EVSE-A, connector 1."""
    cp = ChargePoint(identity="CP-1")
    cp.set_password(PASSWORD)
    cp.save()
    connector = Connector.objects.select_related("evse").get(evse__uid="EVSE-A")
    ChargePointConnector.objects.create(
        charge_point=cp, ocpp_evse_id=1, ocpp_connector_id=1, evse=connector.evse, connector=connector
    )
    return cp
