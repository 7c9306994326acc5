"""Reliability (issue 16): a charger that reconnects resumes its transaction; meter values it queued while
offline, sent after the reconnection (older than what it sent since, also to a new server process) are kept
and applied in timestamp order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from cdrs.models import Cdr
from chargepoints.models import ChargePoint, OcppTransaction
from sessions.models import ChargingSession
from tests.chargepoints.ocpp.harness import Connected, ServerThread
from tests.sessions.test_gateway_fixtures import TOKEN_UID

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]
T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
ENERGY = "Energy.Active.Import.Register"


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def mv16(minutes: int, wh: int) -> dict[str, Any]:
    return {"timestamp": at(minutes), "sampled_value": [{"value": str(wh), "unit": "Wh"}]}


def mv201(minutes: int, wh: int) -> dict[str, Any]:
    return {
        "timestamp": at(minutes),
        "sampled_value": [{"value": wh, "measurand": ENERGY, "unit_of_measure": {"unit": "Wh"}}],
    }


class Charger:
    """Sends the same transaction in 1.6 or 2.0.1 words."""

    def __init__(self, srv: ServerThread, protocol: str) -> None:
        self.protocol = protocol
        self.tx_id: Any = "TX-R-1"
        self.seq = 0
        self.cp = Connected(srv, "CP-1", protocol)

    def reconnect(self, srv: ServerThread) -> None:
        self.cp = Connected(srv, "CP-1", self.protocol)

    def start(self, minutes: int, wh: int) -> None:
        if self.protocol == "ocpp1.6":
            answer = self.cp.call(
                call16.StartTransaction(connector_id=1, id_tag=TOKEN_UID, meter_start=wh, timestamp=at(minutes))
            )
            assert answer.id_tag_info["status"] == "Accepted"
            self.tx_id = answer.transaction_id
            return
        self._event("Started", minutes, [mv201(minutes, wh)], id_token={"id_token": TOKEN_UID, "type": "ISO14443"})

    def meter(self, *readings: tuple[int, int], offline: bool = False) -> None:
        if self.protocol == "ocpp1.6":
            for minutes, wh in readings:  # one MeterValues per queued message, as a 1.6 charger sends them
                self.cp.call(
                    call16.MeterValues(connector_id=1, transaction_id=self.tx_id, meter_value=[mv16(minutes, wh)])
                )
            return
        # 2.0.1: one TransactionEvent carrying several MeterValue (offline: the charger's queue)
        self._event("Updated", readings[-1][0], [mv201(m, wh) for m, wh in readings], offline=offline or None)

    def stop(self, minutes: int, wh: int) -> None:
        if self.protocol == "ocpp1.6":
            self.cp.call(call16.StopTransaction(meter_stop=wh, timestamp=at(minutes), transaction_id=self.tx_id))
            return
        self._event("Ended", minutes, [mv201(minutes, wh)])

    def _event(self, kind: str, minutes: int, meter_value: list[dict[str, Any]], **extra: Any) -> None:
        self.cp.call(
            call201.TransactionEvent(
                event_type=kind,
                timestamp=at(minutes),
                trigger_reason={"Started": "Authorized", "Updated": "MeterValuePeriodic"}.get(kind, "StopAuthorized"),
                seq_no=self.seq,
                transaction_info={"transaction_id": self.tx_id},
                meter_value=meter_value,
                evse={"id": 1, "connector_id": 1} if kind == "Started" else None,
                **{k: v for k, v in extra.items() if v is not None},
            )
        )
        self.seq += 1


def energies(periods: list[dict[str, Any]]) -> list[tuple[str, Decimal]]:
    return [
        (p["start_date_time"], next(Decimal(str(d["volume"])) for d in p["dimensions"] if d["type"] == "ENERGY"))
        for p in periods
    ]


def minutes_z(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_a_charger_that_reconnects_resumes_its_transaction(
    protocol: str, ocpp_server: ServerThread, charge_point: ChargePoint, emsp_token: Any, fake_emsp: Any
) -> None:
    charger = Charger(ocpp_server, protocol)
    charger.start(0, 1000)
    charger.meter((10, 3000))
    charger.cp.close()  # the socket drops mid-transaction
    ocpp_server.run(_sleep(0.2))
    assert not ChargePoint.objects.get().connected

    charger.reconnect(ocpp_server)  # a new WebSocket, the same transactionId
    charger.meter((20, 6000))
    assert ChargePoint.objects.get().connected
    charger.stop(30, 10000)
    charger.cp.close()

    session = ChargingSession.objects.get()  # one session: nothing started twice
    assert session.status == "COMPLETED" and session.kwh == Decimal("9")
    assert energies(session.charging_periods) == [
        (minutes_z(0), Decimal("2")),
        (minutes_z(10), Decimal("3")),
        (minutes_z(20), Decimal("4")),
    ]
    assert OcppTransaction.objects.get().session_id == session.pk
    cdr = Cdr.objects.get()
    assert cdr.total_energy == Decimal("9")
    posted = [r.body for r in fake_emsp.requests if r.method == "POST" and "/cdrs" in r.path]
    assert len(posted) == 1 and Decimal(str(posted[0]["total_energy"])) == Decimal("9")


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_queued_meter_values_after_a_server_restart_are_applied_in_timestamp_order(
    protocol: str, charge_point: ChargePoint, emsp_token: Any, fake_emsp: Any, transactional_db: Any, settings: Any
) -> None:
    settings.OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS = 0
    first = ServerThread()  # server process A
    charger = Charger(first, protocol)
    charger.start(0, 0)
    charger.meter((10, 2000))
    charger.cp.close()
    first.stop()  # A goes away; the charger queues 20 and 30 while it has no connection

    second = ServerThread()  # server process B, a new instance
    second.ocpp.server_id = "test-server-b"
    try:
        charger.reconnect(second)
        charger.meter((40, 8000))  # a live value first ...
        charger.meter((20, 4000), (30, 6000), offline=True)  # ... then the queue, older
        charger.meter((30, 6000), offline=True)  # sent twice (its answer was lost): counted once
        charger.stop(50, 10000)
        charger.cp.close()
    finally:
        second.stop()

    session = ChargingSession.objects.get()
    assert session.status == "COMPLETED" and session.kwh == Decimal("10")
    assert energies(session.charging_periods) == [(minutes_z(m), Decimal("2")) for m in (0, 10, 20, 30, 40)]
    cdr = Cdr.objects.get()
    assert cdr.total_energy == Decimal("10")
    assert [Decimal(str(v)) for v in _cdr_energies(cdr)] == [Decimal("2")] * 5
    # the partner's copy, built the way a Receiver does (PUT replaces the periods, PATCH appends): the same
    # five periods; the rebuilt ones came as a full PUT
    sessions = [(r.method, r.body) for r in fake_emsp.requests if "/sessions/" in r.path]
    theirs: list[dict[str, Any]] = []
    for method, body in sessions:
        theirs = [*([] if method == "PUT" else theirs), *(body.get("charging_periods") or [])]
    assert energies(theirs) == energies(session.charging_periods)
    assert sessions[-1][1]["status"] == "COMPLETED"
    posted = [r.body for r in fake_emsp.requests if r.method == "POST" and "/cdrs" in r.path]
    assert len(posted) == 1 and len(posted[0]["charging_periods"]) == 5


def test_v16_stop_transaction_data_fills_the_last_interval(
    ocpp_server: ServerThread, charge_point: ChargePoint, emsp_token: Any
) -> None:
    """A 1.6 StopTransaction carrying the values queued offline (transactionData): none lost."""
    charger = Charger(ocpp_server, "ocpp1.6")
    charger.start(0, 0)
    charger.meter((10, 1000))
    charger.cp.call(
        call16.StopTransaction(
            meter_stop=5000,
            timestamp=at(40),
            transaction_id=charger.tx_id,
            transaction_data=[mv16(30, 4000), mv16(20, 2500)],
        )
    )
    charger.cp.close()
    session = ChargingSession.objects.get()
    assert energies(session.charging_periods) == [
        (minutes_z(0), Decimal("1")),
        (minutes_z(10), Decimal("1.5")),
        (minutes_z(20), Decimal("1.5")),
        (minutes_z(30), Decimal("1")),
    ]
    assert Cdr.objects.get().total_energy == Decimal("5")


def _cdr_energies(cdr: Cdr) -> list[Any]:
    return [next(d["volume"] for d in p["dimensions"] if d["type"] == "ENERGY") for p in cdr.charging_periods]


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)
