"""The OCPP server with real WebSocket charge points (`ocpp` library clients), OCPP 1.6J and 2.0.1 (issue 16)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from cdrs.models import Cdr
from chargepoints.models import ChargePoint, OcppMessage, OcppTransaction
from locations.models import EVSE
from sessions.models import ChargingSession
from tests.chargepoints.ocpp.harness import Connected, basic
from tests.sessions.test_gateway_fixtures import TOKEN_UID

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def status_of(uid: str) -> str:
    return EVSE.objects.get(uid=uid).status


def test_v16_boot_heartbeat_status_and_message_log(ocpp_server: Any, charge_point: Any) -> None:
    cp = Connected(ocpp_server, "CP-1", "ocpp1.6")
    try:
        boot = cp.call(
            call16.BootNotification(charge_point_model="M1", charge_point_vendor="ACME", firmware_version="9.1")
        )
        assert boot.status == "Accepted" and boot.interval > 0
        stored = ChargePoint.objects.get(identity="CP-1")
        assert (stored.vendor, stored.model, stored.firmware_version, stored.protocol, stored.connected) == (
            "ACME",
            "M1",
            "9.1",
            "ocpp1.6",
            True,
        )
        stored.last_heartbeat_at = None
        stored.save()
        cp.call(call16.Heartbeat())
        assert ChargePoint.objects.get(identity="CP-1").last_heartbeat_at is not None

        cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Faulted"))
        assert status_of("EVSE-A") == "OUTOFORDER"
        cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        assert status_of("EVSE-A") == "AVAILABLE"

        log = list(OcppMessage.objects.filter(charge_point=charge_point).order_by("pk"))
        assert [(m.direction, m.message_type, m.action) for m in log[:2]] == [
            ("IN", "CALL", "BootNotification"),
            ("OUT", "CALLRESULT", ""),
        ]
        assert log[0].payload["chargePointVendor"] == "ACME"
        assert len(log) == 8
    finally:
        cp.close()
    ocpp_server.run(_settle())
    assert not ChargePoint.objects.get(identity="CP-1").connected


async def _settle() -> None:
    import asyncio

    await asyncio.sleep(0.3)


def test_v16_authorize(ocpp_server: Any, charge_point: Any, emsp_token: Any) -> None:
    cp = Connected(ocpp_server, "CP-1", "ocpp1.6")
    try:
        assert cp.call(call16.Authorize(id_tag=TOKEN_UID)).id_tag_info["status"] == "Accepted"
        assert cp.call(call16.Authorize(id_tag="NOBODY")).id_tag_info["status"] == "Invalid"
    finally:
        cp.close()


def test_v16_whole_transaction_makes_a_session_and_a_cdr(ocpp_server: Any, charge_point: Any, emsp_token: Any) -> None:
    cp = Connected(ocpp_server, "CP-1", "ocpp1.6")
    try:
        started = cp.call(
            call16.StartTransaction(connector_id=1, id_tag=TOKEN_UID, meter_start=1000, timestamp=iso(T0))
        )
        assert started.id_tag_info["status"] == "Accepted"
        tx = OcppTransaction.objects.get(transaction_id=str(started.transaction_id))
        session = ChargingSession.objects.get(pk=tx.session_id)
        assert session.status == "ACTIVE" and session.evse_uid == "EVSE-A"
        assert status_of("EVSE-A") == "CHARGING"

        reading = {
            "timestamp": iso(T0 + timedelta(minutes=30)),
            "sampledValue": [{"value": "6000", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}],
        }
        cp.call(call16.MeterValues(connector_id=1, transaction_id=started.transaction_id, meter_value=[reading]))
        session.refresh_from_db()
        assert session.kwh == pytest.approx(5)

        cp.call(
            call16.StopTransaction(
                meter_stop=11000, timestamp=iso(T0 + timedelta(hours=1)), transaction_id=started.transaction_id
            )
        )
        session.refresh_from_db()
        assert session.status == "COMPLETED" and session.kwh == pytest.approx(10)
        assert status_of("EVSE-A") == "AVAILABLE"
        cdr = Cdr.objects.get(session_id=session.ocpi_id)
        assert float(cdr.total_energy) == pytest.approx(10)
        assert OcppTransaction.objects.get(pk=tx.pk).stopped_at == T0 + timedelta(hours=1)
    finally:
        cp.close()


def test_v16_invalid_message_gets_a_call_error(ocpp_server: Any, charge_point: Any) -> None:
    cp = Connected(ocpp_server, "CP-1", "ocpp1.6")
    try:
        answer = json.loads(cp.raw(json.dumps([2, "bad-1", "BootNotification", {"chargePointVendor": 5}])))
        assert answer[0] == 4 and answer[1] == "bad-1"
        assert answer[2] in ("FormationViolation", "FormatViolation", "TypeConstraintViolation")
        # the server is still up: a valid message on the same socket is answered
        ok = json.loads(cp.raw(json.dumps([2, "ok-1", "Heartbeat", {}])))
        assert ok[0] == 3 and "currentTime" in ok[2]
    finally:
        cp.close()


@pytest.mark.parametrize("password", ["wrong-password", None])
def test_wrong_password_or_unknown_charge_point_is_401(ocpp_server: Any, charge_point: Any, password: Any) -> None:
    async def attempt(identity: str) -> int:
        headers = basic(identity, password) if password else {}
        try:
            async with websockets.connect(
                ocpp_server.url(identity), subprotocols=["ocpp1.6"], additional_headers=headers
            ):
                return 101
        except websockets.InvalidStatus as exc:
            return exc.response.status_code

    assert ocpp_server.run(attempt("CP-1")) == 401
    assert ocpp_server.run(attempt("CP-UNKNOWN")) == 401


def test_unknown_subprotocol_is_refused(ocpp_server: Any, charge_point: Any) -> None:
    from tests.chargepoints.ocpp.harness import PASSWORD

    async def attempt() -> str:
        try:
            async with websockets.connect(
                ocpp_server.url("CP-1"), subprotocols=["ocpp1.5"], additional_headers=basic("CP-1", PASSWORD)
            ) as ws:
                await ws.recv()
        except websockets.InvalidHandshake as exc:
            return type(exc).__name__
        except websockets.ConnectionClosed as exc:
            return f"closed {exc.rcvd.code if exc.rcvd else ''}"
        return "accepted"

    assert ocpp_server.run(attempt()) != "accepted"
    assert not ChargePoint.objects.get(identity="CP-1").connected


# --- OCPP 2.0.1 ----------------------------------------------------------------------------------------


def test_v201_boot_heartbeat_status_authorize(ocpp_server: Any, charge_point: Any, emsp_token: Any) -> None:
    cp = Connected(ocpp_server, "CP-1", "ocpp2.0.1")
    try:
        boot = cp.call(
            call201.BootNotification(
                charging_station={"model": "M2", "vendor_name": "ACME", "firmware_version": "2.0"}, reason="PowerUp"
            )
        )
        assert boot.status == "Accepted"
        stored = ChargePoint.objects.get(identity="CP-1")
        assert (stored.vendor, stored.model, stored.firmware_version, stored.protocol) == (
            "ACME",
            "M2",
            "2.0",
            "ocpp2.0.1",
        )
        cp.call(call201.Heartbeat())
        cp.call(
            call201.StatusNotification(timestamp=iso(T0), connector_status="Unavailable", evse_id=1, connector_id=1)
        )
        assert status_of("EVSE-A") == "INOPERATIVE"
        cp.call(call201.StatusNotification(timestamp=iso(T0), connector_status="Available", evse_id=1, connector_id=1))
        assert status_of("EVSE-A") == "AVAILABLE"
        ok = cp.call(call201.Authorize(id_token={"id_token": TOKEN_UID, "type": "ISO14443"}))
        assert ok.id_token_info["status"] == "Accepted"
        bad = cp.call(call201.Authorize(id_token={"id_token": "NOBODY", "type": "ISO14443"}))
        assert bad.id_token_info["status"] == "Invalid"
    finally:
        cp.close()


def _energy(at: datetime, wh: int) -> list[dict[str, Any]]:
    return [{"timestamp": iso(at), "sampledValue": [{"value": wh, "measurand": "Energy.Active.Import.Register"}]}]


def test_v201_transaction_events_make_a_session_and_a_cdr(ocpp_server: Any, charge_point: Any, emsp_token: Any) -> None:
    cp = Connected(ocpp_server, "CP-1", "ocpp2.0.1")
    tx_info = {"transactionId": "TX-201-1"}
    try:
        started = cp.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=iso(T0),
                trigger_reason="Authorized",
                seq_no=0,
                transaction_info=tx_info,
                id_token={"id_token": TOKEN_UID, "type": "ISO14443"},
                evse={"id": 1, "connector_id": 1},
                meter_value=_energy(T0, 2000),
            )
        )
        assert started.id_token_info["status"] == "Accepted"
        tx = OcppTransaction.objects.get(transaction_id="TX-201-1")
        assert ChargingSession.objects.get(pk=tx.session_id).status == "ACTIVE"
        cp.call(
            call201.TransactionEvent(
                event_type="Updated",
                timestamp=iso(T0 + timedelta(minutes=30)),
                trigger_reason="MeterValuePeriodic",
                seq_no=1,
                transaction_info=tx_info,
                meter_value=_energy(T0 + timedelta(minutes=30), 5000),
            )
        )
        assert ChargingSession.objects.get(pk=tx.session_id).kwh == pytest.approx(3)
        cp.call(
            call201.TransactionEvent(
                event_type="Ended",
                timestamp=iso(T0 + timedelta(hours=1)),
                trigger_reason="EVCommunicationLost",
                seq_no=2,
                transaction_info=tx_info,
                meter_value=_energy(T0 + timedelta(hours=1), 9000),
            )
        )
        session = ChargingSession.objects.get(pk=tx.session_id)
        assert session.status == "COMPLETED" and session.kwh == pytest.approx(7)
        assert float(Cdr.objects.get(session_id=session.ocpi_id).total_energy) == pytest.approx(7)
        assert status_of("EVSE-A") == "AVAILABLE"
    finally:
        cp.close()


def test_v201_invalid_message_gets_a_call_error(ocpp_server: Any, charge_point: Any) -> None:
    cp = Connected(ocpp_server, "CP-1", "ocpp2.0.1")
    try:
        answer = json.loads(cp.raw(json.dumps([2, "bad-2", "StatusNotification", {"evseId": "one"}])))
        assert answer[0] == 4 and answer[1] == "bad-2"
    finally:
        cp.close()
