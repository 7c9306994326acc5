"""Issue 16's whole flow, for OCPP 1.6 and 2.0.1, over real sockets only.

The partner eMSP (tests.fake_partner: a real HTTP server) POSTs START_SESSION to our CPO commands endpoint on
the live server; OcppGateway sends it through Redis to the OCPP server holding the charger's WebSocket; the
charger (an `ocpp` library ChargePoint) accepts RemoteStartTransaction / RequestStartTransaction, starts a
transaction, sends meter values and stops. The eMSP receives the CommandResult at its response_url, the
Session (PUT, PATCHes, COMPLETED) and the CDR POST, with the totals of the tariff.

Needs Redis: set REDIS_URL; skipped otherwise.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import redis
import requests
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from chargepoints.models import ChargePoint, OcppMessage, OcppTransaction
from chargepoints.ocpp_gateway.rpc import CONNECTED, RpcOcppServer, connected_server
from sessions.models import ChargingSession
from tests.chargepoints.ocpp.chargers import Auto16, Auto201, Script
from tests.chargepoints.ocpp.harness import Connected, ServerThread
from tests.fake_partner import FakePartner
from tests.sessions.test_gateway_fixtures import TOKEN_UID

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
    pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/14)"),
]
APP_TOKEN = {
    "country_code": "DE",
    "party_id": "EMP",
    "uid": "APP-0001",
    "type": "APP_USER",
    "contract_id": "DE-EMP-C00000099",
    "issuer": "EMP",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2026-03-01T00:00:00Z",
}


@pytest.fixture
def rpc_server(transactional_db: Any, settings: Any) -> Iterator[ServerThread]:
    settings.OCPP_REDIS_URL = REDIS_URL
    redis.Redis.from_url(REDIS_URL).delete(CONNECTED)
    srv = ServerThread(RpcOcppServer(redis_url=REDIS_URL, server_id="test-e2e"))
    yield srv
    srv.stop()


@pytest.fixture
def ocpp_cpo(live_server: Any, settings: Any, site: Any, emsp: Any, charge_point: ChargePoint) -> Any:
    settings.OCPI_BASE_URL = live_server.url
    settings.OCPI_GATEWAY = "chargepoints.ocpp_gateway.gateway.OcppGateway"
    settings.OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS = 0
    return live_server


def connect(srv: ServerThread, protocol: str, script: Script, identity: str = "CP-1") -> Connected:
    cp = Connected(srv, identity, protocol, cls=Auto16 if protocol == "ocpp1.6" else Auto201)
    cp.client.script, cp.client.remote = script, []
    deadline = time.monotonic() + 5
    while not connected_server(identity) and time.monotonic() < deadline:  # registered just after the upgrade
        time.sleep(0.02)
    return cp


def wait_for(predicate: Any, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


def cdr_posts(fake: FakePartner) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and "/cdrs" in r.path]


def start_session(live_server: Any, emsp: Any, fake: FakePartner, request_id: str) -> requests.Response:
    return requests.post(
        f"{live_server.url}/ocpi/cpo/2.2.1/commands/START_SESSION",
        json={
            "response_url": f"{fake.base}/results/START_SESSION/{request_id}",
            "token": APP_TOKEN,
            "location_id": "LOCG",
            "evse_uid": "EVSE-A",
            "authorization_reference": "AUTH-REF-42",
        },
        headers={
            "Authorization": emsp.auth,
            "OCPI-from-country-code": "DE",
            "OCPI-from-party-id": "EMP",
            "OCPI-to-country-code": "NL",
            "OCPI-to-party-id": "EXA",
        },
        timeout=30,
    )


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_ocpi_start_session_to_cdr_over_real_sockets(
    protocol: str, rpc_server: ServerThread, ocpp_cpo: Any, emsp: Any, fake_emsp: FakePartner
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    # 1.000 kWh on the meter at the start; 3, 6 and 11 kWh at +15, +30, +45 min (stop): 10 kWh in 45 min
    script = Script(start=start, readings=[1000, 4000, 7000], stop_wh=11000)
    script.done = rpc_server.run(_event())
    cp = connect(rpc_server, protocol, script)
    try:
        response = start_session(ocpp_cpo, emsp, fake_emsp, "e2e-1")
        assert response.status_code == 200, response.text
        assert response.json()["status_code"] == 1000
        assert response.json()["data"]["result"] == "ACCEPTED"

        rpc_server.run(asyncio.wait_for(script.done.wait(), 30))
        posts = wait_for(lambda: cdr_posts(fake_emsp))
    finally:
        cp.close()

    # what the charger was asked
    asked = cp.client.remote
    assert len(asked) == 1
    if protocol == "ocpp1.6":
        assert asked[0] == {"id_tag": "APP-0001", "connector_id": 1}
        assert script.sent == ["StartTransaction", "MeterValues", "MeterValues", "StopTransaction"]
    else:
        assert asked[0]["id_token"] == {"id_token": "APP-0001", "type": "Central"} and asked[0]["evse_id"] == 1
        assert script.sent == ["Started", "Updated", "Updated", "Ended"]

    # the CommandResult at the eMSP's response_url
    results = [(r.method, r.path, r.body) for r in fake_emsp.requests if r.path.startswith("/results/")]
    assert results == [("POST", "/results/START_SESSION/e2e-1", {"result": "ACCEPTED"})]

    # the Session: PUT first, then PATCHes/PUTs, ending COMPLETED
    sessions = [r for r in fake_emsp.requests if "/sessions/" in r.path]
    assert sessions[0].method == "PUT"
    assert "/sessions/NL/EXA/" in sessions[0].path
    first = sessions[0].body
    assert (first["status"], first["auth_method"], first["authorization_reference"]) == (
        "ACTIVE",
        "COMMAND",
        "AUTH-REF-42",
    )
    assert first["cdr_token"]["uid"] == "APP-0001" and first["evse_uid"] == "EVSE-A"
    assert {r.method for r in sessions[1:]} <= {"PATCH", "PUT"}
    assert sessions[-1].body["status"] == "COMPLETED"
    assert all(r.headers["OCPI-to-party-id"] == "EMP" for r in sessions)
    pushed_periods = [p for r in sessions for p in (r.body.get("charging_periods") or [])]
    assert len({p["start_date_time"] for p in pushed_periods}) == 3  # one per meter interval

    # the one CDR, priced with tariff TG: 10 kWh x 0.25 + 0.75 h x 2.00 = 4.00 excl. VAT, 4.84 incl. 21 %
    assert len(posts) == 1
    cdr = posts[0].body
    assert cdr["cdr_token"]["uid"] == "APP-0001"
    assert cdr["auth_method"] == "COMMAND" and cdr["authorization_reference"] == "AUTH-REF-42"
    assert cdr["start_date_time"] == start.isoformat().replace("+00:00", "Z")
    assert cdr["end_date_time"] == (start + timedelta(minutes=45)).isoformat().replace("+00:00", "Z")
    assert Decimal(str(cdr["total_energy"])) == Decimal("10")
    assert Decimal(str(cdr["total_time"])) == Decimal("0.75")
    assert Decimal(str(cdr["total_energy_cost"]["excl_vat"])) == Decimal("2.5")
    assert Decimal(str(cdr["total_time_cost"]["excl_vat"])) == Decimal("1.5")
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("4")
    assert Decimal(str(cdr["total_cost"]["incl_vat"])) == Decimal("4.84")
    assert [Decimal(str(p["dimensions"][0]["volume"])) for p in cdr["charging_periods"]] == [
        Decimal("3"),
        Decimal("3"),
        Decimal("4"),
    ]

    session = ChargingSession.objects.get()
    assert session.status == "COMPLETED" and session.kwh == Decimal("10")
    tx = OcppTransaction.objects.get()
    assert (tx.session_id, tx.transaction_id) == (session.pk, str(script.transaction_id))
    assert OcppMessage.objects.filter(direction="IN", message_type="CALL").count() == 4


async def _event() -> asyncio.Event:
    return asyncio.Event()


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_active_charging_profile_is_the_chargers_composite_schedule(
    protocol: str, rpc_server: ServerThread, ocpp_cpo: Any, emsp: Any, emsp_token: Any, fake_emsp: FakePartner
) -> None:
    """GET chargingprofiles/{session_id} from the eMSP over HTTP: GetCompositeSchedule on the charger's socket,
    its answer POSTed to the response_url as the ActiveChargingProfileResult."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    cp = connect(rpc_server, protocol, Script(start=start, readings=[0], stop_wh=0))
    try:
        if protocol == "ocpp1.6":
            cp.call(call16.StartTransaction(connector_id=1, id_tag=TOKEN_UID, meter_start=0, timestamp=_z(start)))
        else:
            cp.call(
                call201.TransactionEvent(
                    event_type="Started",
                    timestamp=_z(start),
                    trigger_reason="Authorized",
                    seq_no=0,
                    transaction_info={"transaction_id": "TX-CP-1"},
                    id_token={"id_token": TOKEN_UID, "type": "ISO14443"},
                    evse={"id": 1, "connector_id": 1},
                )
            )
        session = ChargingSession.objects.get()
        response = requests.get(
            f"{ocpp_cpo.url}/ocpi/cpo/2.2.1/chargingprofiles/{session.ocpi_id}",
            params={"duration": 900, "response_url": f"{fake_emsp.base}/cp/get-1"},
            headers={"Authorization": emsp.auth},
            timeout=30,
        )
        assert response.status_code == 200 and response.json()["data"]["result"] == "ACCEPTED", response.text
        [result] = wait_for(lambda: [r.body for r in fake_emsp.requests if r.path == "/cp/get-1"])
    finally:
        cp.close()

    [asked] = cp.client.remote
    if protocol == "ocpp1.6":
        assert asked == {"GetCompositeSchedule": {"connector_id": 1, "duration": 900}}
        expected = {
            "start_date_time": _z(start),
            "charging_profile": {
                "start_date_time": _z(start),
                "duration": 900,
                "charging_rate_unit": "W",
                "charging_profile_period": [
                    {"start_period": 0, "limit": 11000.0},
                    {"start_period": 600, "limit": 7400.0},
                ],
            },
        }
    else:
        assert asked == {"GetCompositeSchedule": {"evse_id": 1, "duration": 900}}
        expected = {
            "start_date_time": _z(start),
            "charging_profile": {
                "start_date_time": _z(start),
                "duration": 900,
                "charging_rate_unit": "A",
                "charging_profile_period": [{"start_period": 0, "limit": 16.0}],
            },
        }
    assert result == {"result": "ACCEPTED", "profile": expected}


def test_active_charging_profile_rejected_when_the_charger_cannot_answer(
    rpc_server: ServerThread, ocpp_cpo: Any, emsp: Any, emsp_token: Any, fake_emsp: FakePartner
) -> None:
    from chargepoints.ocpp_gateway.gateway import OcppGateway

    cp = Connected(rpc_server, "CP-1", "ocpp1.6")  # a plain client: GetCompositeSchedule is a CallError
    try:
        wait_for(lambda: connected_server("CP-1"), 5)
        cp.call(
            call16.StartTransaction(connector_id=1, id_tag=TOKEN_UID, meter_start=0, timestamp=_z(datetime.now(UTC)))
        )
        session = ChargingSession.objects.get()
        outcome = OcppGateway().get_active_charging_profile(session=session, duration=60, timeout=5)
    finally:
        cp.close()
    assert outcome.result == "REJECTED" and "NotImplemented" in outcome.message


def _z(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")
