"""Scripted `ocpp` library charge points (1.6 and 2.0.1) for the end-to-end tests.

A charger accepts a remote start and then, on its own (an `after` hook, like firmware would), runs the
transaction it was asked for: start, meter values, stop, at the times and Wh readings of `script` (fixed
timestamps, so the test knows the totals). `pause` (an asyncio.Event) holds it after the start while the
test disconnects it; everything it sent is in `sent`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as Client201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201

ENERGY = "Energy.Active.Import.Register"


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@dataclass
class Script:
    """Start at `start` with `readings[0]` Wh, then one MeterValues per further reading, every `step`; the
    stop comes `step` after the last meter value with `stop_wh`."""

    start: datetime
    readings: list[int]
    stop_wh: int
    step: timedelta = timedelta(minutes=15)
    done: asyncio.Event | None = None
    transaction_id: Any = None
    sent: list[str] = field(default_factory=list)

    def at(self, index: int) -> datetime:
        return self.start + self.step * index

    @property
    def stop_at(self) -> datetime:
        return self.at(len(self.readings))


class Auto16(Client16):
    script: Script
    remote: list[dict[str, Any]]
    running: asyncio.Future[None]

    @on("RemoteStartTransaction")
    async def remote_start(self, id_tag: str, **kw: Any):  # type: ignore[no-untyped-def]
        self.remote.append({"id_tag": id_tag, **kw})
        return result16.RemoteStartTransaction(status="Accepted")

    @after("RemoteStartTransaction")
    async def run_it(self, id_tag: str, **kw: Any) -> None:
        # not awaited here: the library awaits this hook in its read loop, which our CALLs' answers need
        self.running = asyncio.ensure_future(self.transaction(id_tag, kw.get("connector_id") or 1))

    @on("GetCompositeSchedule")
    async def composite(self, connector_id: int, duration: int, **kw: Any):  # type: ignore[no-untyped-def]
        self.remote.append({"GetCompositeSchedule": {"connector_id": connector_id, "duration": duration, **kw}})
        return result16.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=iso(self.script.start),
            charging_schedule={
                "duration": duration,
                "charging_rate_unit": "W",
                "charging_schedule_period": [
                    {"start_period": 0, "limit": 11000.0},
                    {"start_period": 600, "limit": 7400.0},
                ],
            },
        )

    async def transaction(self, id_tag: str, connector_id: int) -> None:
        s = self.script
        started = await self.call(
            call16.StartTransaction(
                connector_id=connector_id, id_tag=id_tag, meter_start=s.readings[0], timestamp=iso(s.start)
            )
        )
        s.transaction_id = started.transaction_id
        s.sent.append("StartTransaction")
        for index, wh in enumerate(s.readings[1:], start=1):
            await self.call(
                call16.MeterValues(
                    connector_id=connector_id,
                    transaction_id=started.transaction_id,
                    meter_value=[{"timestamp": iso(s.at(index)), "sampled_value": [{"value": str(wh), "unit": "Wh"}]}],
                )
            )
            s.sent.append("MeterValues")
        await self.call(
            call16.StopTransaction(
                meter_stop=s.stop_wh, timestamp=iso(s.stop_at), transaction_id=started.transaction_id, reason="Remote"
            )
        )
        s.sent.append("StopTransaction")
        if s.done is not None:
            s.done.set()


class Auto201(Client201):
    script: Script
    remote: list[dict[str, Any]]
    running: asyncio.Future[None]

    @on("RequestStartTransaction")
    async def remote_start(self, id_token: dict, remote_start_id: int, **kw: Any):  # type: ignore[no-untyped-def]
        self.remote.append({"id_token": id_token, "remote_start_id": remote_start_id, **kw})
        return result201.RequestStartTransaction(status="Accepted")

    @after("RequestStartTransaction")
    async def run_it(self, id_token: dict, remote_start_id: int, **kw: Any) -> None:
        self.running = asyncio.ensure_future(self.transaction(id_token, remote_start_id, kw.get("evse_id") or 1))

    @on("GetCompositeSchedule")
    async def composite(self, duration: int, evse_id: int, **kw: Any):  # type: ignore[no-untyped-def]
        self.remote.append({"GetCompositeSchedule": {"evse_id": evse_id, "duration": duration, **kw}})
        return result201.GetCompositeSchedule(
            status="Accepted",
            schedule={
                "evse_id": evse_id,
                "duration": duration,
                "schedule_start": iso(self.script.start),
                "charging_rate_unit": "A",
                "charging_schedule_period": [{"start_period": 0, "limit": 16.0}],
            },
        )

    async def transaction(self, id_token: dict, remote_start_id: int, evse_id: int) -> None:
        s = self.script
        tx_id = "TX-201-0001"
        s.transaction_id = tx_id

        def meter(at: datetime, wh: int) -> list[dict[str, Any]]:
            return [
                {
                    "timestamp": iso(at),
                    "sampled_value": [{"value": wh, "measurand": ENERGY, "unit_of_measure": {"unit": "Wh"}}],
                }
            ]

        await self.call(
            call201.TransactionEvent(
                event_type="Started",
                timestamp=iso(s.start),
                trigger_reason="RemoteStart",
                seq_no=0,
                transaction_info={"transaction_id": tx_id, "remote_start_id": remote_start_id},
                id_token=id_token,
                evse={"id": evse_id, "connector_id": 1},
                meter_value=meter(s.start, s.readings[0]),
            )
        )
        s.sent.append("Started")
        for index, wh in enumerate(s.readings[1:], start=1):
            await self.call(
                call201.TransactionEvent(
                    event_type="Updated",
                    timestamp=iso(s.at(index)),
                    trigger_reason="MeterValuePeriodic",
                    seq_no=index,
                    transaction_info={"transaction_id": tx_id},
                    meter_value=meter(s.at(index), wh),
                )
            )
            s.sent.append("Updated")
        await self.call(
            call201.TransactionEvent(
                event_type="Ended",
                timestamp=iso(s.stop_at),
                trigger_reason="RemoteStop",
                seq_no=len(s.readings),
                transaction_info={"transaction_id": tx_id, "stopped_reason": "Remote"},
                meter_value=meter(s.stop_at, s.stop_wh),
            )
        )
        s.sent.append("Ended")
        if s.done is not None:
            s.done.set()
