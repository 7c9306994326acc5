"""OcppGateway through Redis (issue 16): commands from Django reach the charge point's socket in ocpp_server.

Needs Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/14); skipped otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as Client201
from ocpp.v201 import call_result as result201

from chargepoints.models import ChargePointConnector, OcppMessage, OcppTransaction
from chargepoints.ocpp_gateway.gateway import OcppGateway
from chargepoints.ocpp_gateway.rpc import CONNECTED, RpcOcppServer, call_charge_point, connected_server
from locations.models import EVSE
from sessions.gateway import ChargePointGateway
from sessions.models import ChargingSession
from tests.chargepoints.ocpp import harness
from tests.chargepoints.ocpp.harness import Connected, ServerThread
from tests.sessions.test_gateway_fixtures import TOKEN_UID

REDIS_URL = os.environ.get("REDIS_URL", "")
CDR_TOKEN = {
    "country_code": "DE",
    "party_id": "EMP",
    "uid": TOKEN_UID,
    "type": "RFID",
    "contract_id": "DE-EMP-C00000001",
}
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not REDIS_URL, reason="OCPP RPC tests need Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/14)"
    ),
]


class Charger16(Client16):
    """A 1.6 charge point that accepts remote start/stop and records what it was asked."""

    asked: list[tuple[str, dict[str, Any]]]

    @on("RemoteStartTransaction")
    async def remote_start(self, id_tag: str, **kw: Any):  # type: ignore[no-untyped-def]
        self.asked.append(("RemoteStartTransaction", {"id_tag": id_tag, **kw}))
        return result16.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    async def remote_stop(self, transaction_id: int):  # type: ignore[no-untyped-def]
        self.asked.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        return result16.RemoteStopTransaction(status="Rejected")

    @on("UnlockConnector")
    async def unlock(self, connector_id: int):  # type: ignore[no-untyped-def]
        self.asked.append(("UnlockConnector", {"connector_id": connector_id}))
        return result16.UnlockConnector(status="Unlocked")

    @on("SetChargingProfile")
    async def set_profile(self, connector_id: int, cs_charging_profiles: dict):  # type: ignore[no-untyped-def]
        self.asked.append(("SetChargingProfile", {"connector_id": connector_id, **cs_charging_profiles}))
        return result16.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    async def clear_profile(self, **kw: Any):  # type: ignore[no-untyped-def]
        self.asked.append(("ClearChargingProfile", kw))
        return result16.ClearChargingProfile(status="Unknown")


class Charger201(Client201):
    asked: list[tuple[str, dict[str, Any]]]

    @on("RequestStartTransaction")
    async def remote_start(self, id_token: dict, remote_start_id: int, **kw: Any):  # type: ignore[no-untyped-def]
        self.asked.append(("RequestStartTransaction", {"id_token": id_token, **kw}))
        return result201.RequestStartTransaction(status="Accepted")


@pytest.fixture
def rpc_server(transactional_db: Any, settings: Any) -> Iterator[ServerThread]:
    settings.OCPP_REDIS_URL = REDIS_URL
    redis.Redis.from_url(REDIS_URL).delete(CONNECTED)
    srv = ServerThread(RpcOcppServer(redis_url=REDIS_URL, server_id="test-rpc"))
    yield srv
    srv.stop()


def connect(srv: ServerThread, protocol: str, cls: type) -> Connected:
    original = harness.Client16, harness.Client201
    harness.Client16, harness.Client201 = (cls, harness.Client201) if protocol == "ocpp1.6" else (harness.Client16, cls)
    try:
        cp = Connected(srv, "CP-1", protocol)
    finally:
        harness.Client16, harness.Client201 = original
    cp.client.asked = []
    for _ in range(50):  # the server registers the socket in Redis just after the upgrade
        if connected_server("CP-1"):
            break
        rpc_server_sleep(srv)
    return cp


def rpc_server_sleep(srv: ServerThread) -> None:
    srv.run(harness_sleep(0.05))


def evse_a() -> EVSE:
    return EVSE.objects.select_related("location").get(uid="EVSE-A")


def test_the_gateway_implements_the_port() -> None:
    assert isinstance(OcppGateway(), ChargePointGateway)


def test_v16_start_unlock_and_stop_reach_the_charge_point(rpc_server: Any, charge_point: Any, emsp_token: Any) -> None:
    cp = connect(rpc_server, "ocpp1.6", Charger16)
    try:
        assert connected_server("CP-1") == "test-rpc"
        gateway = OcppGateway()
        started = gateway.start_session(
            evse=evse_a(),
            connector_id="1",
            cdr_token=CDR_TOKEN,
            authorization_reference=None,
            token_owner_partner_id=None,
            timeout=5,
        )
        assert started.result == "ACCEPTED"
        assert cp.client.asked[0] == ("RemoteStartTransaction", {"id_tag": TOKEN_UID, "connector_id": 1})
        assert OcppMessage.objects.filter(
            direction="OUT", message_type="CALL", action="RemoteStartTransaction"
        ).exists()
        assert OcppMessage.objects.filter(
            direction="IN", message_type="CALLRESULT", action="RemoteStartTransaction"
        ).exists()

        assert gateway.unlock_connector(evse=evse_a(), connector_id="1", timeout=5).result == "ACCEPTED"

        # the charge point then starts the transaction; the stop goes out with its transactionId
        tx = cp.call(
            call16.StartTransaction(
                connector_id=1,
                id_tag=TOKEN_UID,
                meter_start=0,
                timestamp=datetime(2026, 3, 2, 10, tzinfo=UTC).isoformat(),
            )
        )
        session = ChargingSession.objects.get(
            pk=OcppTransaction.objects.get(transaction_id=str(tx.transaction_id)).session_id
        )
        stopped = gateway.stop_session(session=session, timeout=5)
        assert stopped.result == "REJECTED"
        assert cp.client.asked[-1] == ("RemoteStopTransaction", {"transaction_id": tx.transaction_id})
    finally:
        cp.close()


def test_v201_start_goes_out_as_request_start_transaction(rpc_server: Any, charge_point: Any) -> None:
    cp = connect(rpc_server, "ocpp2.0.1", Charger201)
    try:
        started = OcppGateway().start_session(
            evse=evse_a(),
            connector_id=None,
            cdr_token={"uid": "APPUSER1", "type": "APP_USER"},
            authorization_reference=None,
            token_owner_partner_id=None,
            timeout=5,
        )
        assert started.result == "ACCEPTED"
        name, payload = cp.client.asked[0]
        assert name == "RequestStartTransaction"
        assert payload["id_token"] == {"id_token": "APPUSER1", "type": "Central"} and payload["evse_id"] == 1
    finally:
        cp.close()


def test_not_connected_fails_and_unanswered_call_times_out(rpc_server: Any, charge_point: Any) -> None:
    assert OcppGateway().unlock_connector(evse=evse_a(), connector_id="1", timeout=1).result == "FAILED"
    cp = connect(rpc_server, "ocpp1.6", Client16)  # handles no RemoteStartTransaction: answers a CallError
    try:
        result = OcppGateway().start_session(
            evse=evse_a(),
            connector_id="1",
            cdr_token=CDR_TOKEN,
            authorization_reference=None,
            token_owner_partner_id=None,
            timeout=3,
        )
        assert result.result == "FAILED" and "NotImplemented" in result.message
        # a server that never reads its queue: the caller gets None after its timeout
        redis.Redis.from_url(REDIS_URL).hset(CONNECTED, "CP-GHOST", "no-such-server")
        assert call_charge_point("CP-GHOST", "Heartbeat", {}, timeout=1) is None
    finally:
        redis.Redis.from_url(REDIS_URL).hdel(CONNECTED, "CP-GHOST")
        cp.close()
    rpc_server.run(harness_sleep())
    assert connected_server("CP-1") is None


async def harness_sleep(seconds: float = 0.3) -> None:
    import asyncio

    await asyncio.sleep(seconds)


def test_ocpi_start_session_reaches_the_charge_point_as_remote_start(
    rpc_server: Any,
    charge_point: Any,
    emsp: Any,
    fake_emsp: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """An eMSP's START_SESSION (commands Receiver) with OCPI_GATEWAY = OcppGateway: RemoteStartTransaction on
    the charge point's socket, and the charge point's Accepted posted to the eMSP as the CommandResult."""
    settings.OCPI_GATEWAY = "chargepoints.ocpp_gateway.gateway.OcppGateway"
    cp = connect(rpc_server, "ocpp1.6", Charger16)
    body = {
        "response_url": f"{fake_emsp.base}/results/START_SESSION/7",
        "token": {
            "country_code": "DE",
            "party_id": "EMP",
            "uid": "APP-0001",
            "type": "APP_USER",
            "contract_id": "DE-EMP-C00000099",
            "issuer": "EMP",
            "valid": True,
            "whitelist": "ALLOWED",
            "last_updated": "2026-03-01T00:00:00Z",
        },
        "location_id": "LOCG",
        "evse_uid": "EVSE-A",
        "authorization_reference": "AUTH-REF-9",
    }
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = emsp.client().post("/ocpi/cpo/2.2.1/commands/START_SESSION", body, format="json")
        assert response.json()["data"]["result"] == "ACCEPTED"
        assert cp.client.asked == [("RemoteStartTransaction", {"id_tag": "APP-0001", "connector_id": 1})]
        posted = [(r.path, r.body) for r in fake_emsp.requests if r.path.startswith("/results/")]
        assert posted == [("/results/START_SESSION/7", {"result": "ACCEPTED"})]
        assert not ChargingSession.objects.exists()  # born only from the charge point's StartTransaction

        started = cp.call(
            call16.StartTransaction(
                connector_id=1,
                id_tag="APP-0001",
                meter_start=0,
                timestamp=datetime(2026, 3, 2, 10, tzinfo=UTC).isoformat(),
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
        session = ChargingSession.objects.get()
        assert (session.auth_method, session.authorization_reference, session.token_owner_partner) == (
            "COMMAND",
            "AUTH-REF-9",
            emsp.partner,
        )
        assert session.cdr_token["uid"] == "APP-0001" and session.evse_uid == "EVSE-A"
        assert ChargePointConnector.objects.get().pending_start is None
    finally:
        cp.close()


def test_v16_charging_profile_set_and_clear(rpc_server: Any, charge_point: Any, emsp_token: Any) -> None:
    cp = connect(rpc_server, "ocpp1.6", Charger16)
    try:
        tx = cp.call(
            call16.StartTransaction(
                connector_id=1,
                id_tag=TOKEN_UID,
                meter_start=0,
                timestamp=datetime(2026, 3, 2, 10, tzinfo=UTC).isoformat(),
            )
        )
        session = ChargingSession.objects.get()
        ocpi_profile = {
            "charging_rate_unit": "W",
            "duration": 3600,
            "charging_profile_period": [{"start_period": 0, "limit": 11000}, {"start_period": 1800, "limit": 7400}],
        }
        outcome = OcppGateway().set_charging_profile(session=session, charging_profile=ocpi_profile, timeout=5)
        assert outcome.result == "ACCEPTED"
        name, sent = cp.client.asked[-1]
        assert name == "SetChargingProfile" and sent["connector_id"] == 1
        assert (sent["charging_profile_purpose"], sent["charging_profile_kind"], sent["transaction_id"]) == (
            "TxProfile",
            "Relative",
            tx.transaction_id,
        )
        assert sent["charging_schedule"]["charging_schedule_period"] == [
            {"start_period": 0, "limit": 11000.0},
            {"start_period": 1800, "limit": 7400.0},
        ]
        assert sent["charging_schedule"]["duration"] == 3600
        cleared = OcppGateway().clear_charging_profile(session=session, timeout=5)
        assert cleared.result == "UNKNOWN"
        assert cp.client.asked[-1] == ("ClearChargingProfile", {"id": session.pk})
    finally:
        cp.close()


def test_a_stopping_server_unregisters_its_charge_points(rpc_server: Any, charge_point: Any) -> None:
    cp = connect(rpc_server, "ocpp1.6", Charger16)
    assert connected_server("CP-1") == "test-rpc"
    try:
        rpc_server.run(rpc_server.ocpp.stopped())
        assert connected_server("CP-1") is None
    finally:
        cp.close()
