"""The charge point gateway port (ARCHITECTURE.md "Charge point gateway"): the boundary to physical charge points.

Commands go OUT through one small interface, `ChargePointGateway`, which sessions (commands, reservations,
charging profiles) call through `get_gateway()`; events come IN through `chargepoints.events` (EVSE status,
session started, meter values, session stopped), which updates the EVSE status, the sessions and creates the CDR.
Sessions and CDRs are born only from those events. The implementations and the events live in the top-layer
`chargepoints` app; this module is what sessions may import (sessions never imports chargepoints).

The implementation is chosen by settings.OCPI_GATEWAY (dotted path of a class, instantiated without
arguments); the default is `chargepoints.simulator.SimulatorGateway`. An OCPP 1.6/2.0.1 adapter implements the
same interface: RemoteStartTransaction/RemoteStopTransaction/UnlockConnector/ReserveNow/CancelReservation/
SetChargingProfile/ClearChargingProfile/GetCompositeSchedule out, StatusNotification/StartTransaction/MeterValues/
StopTransaction in (mapped onto the `chargepoints.events` functions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from locations.models import EVSE
    from sessions.models import ChargingSession, Reservation

DEFAULT_GATEWAY = "chargepoints.simulator.SimulatorGateway"


class GatewayEventError(ValueError):
    """An event that cannot be applied (unknown EVSE/connector, finished session, ...)."""


@dataclass(frozen=True)
class GatewayResult:
    """A charge point's answer to one command.

    `result` is a CommandResultType value for commands (ACCEPTED, EVSE_OCCUPIED, EVSE_INOPERATIVE, FAILED,
    NOT_SUPPORTED, REJECTED, TIMEOUT, UNKNOWN_RESERVATION) or a ChargingProfileResultType value for charging
    profiles (ACCEPTED, REJECTED, UNKNOWN). `data` carries extras: the started session's pk ("session_pk"),
    the ActiveChargingProfile ("profile", OCPI JSON), the EVSE the charge point chose ("evse_uid").
    """

    result: str
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.result == "ACCEPTED"


@runtime_checkable
class ChargePointGateway(Protocol):
    """Commands to charge points. Every method blocks until the charge point answers, at most `timeout`
    seconds, and then returns GatewayResult("TIMEOUT"); it never raises for a charge point's refusal.

    Never call these inside a database transaction (the charge point may be slow). Implementations report
    what the charge point does afterwards (a session that starts, meter values, ...) through
    `chargepoints.events`.
    """

    def start_session(
        self,
        *,
        evse: EVSE,
        connector_id: str | None,
        cdr_token: dict[str, Any],
        authorization_reference: str | None,
        token_owner_partner_id: int | None,
        timeout: float,
    ) -> GatewayResult: ...

    def stop_session(self, *, session: ChargingSession, timeout: float) -> GatewayResult: ...

    def unlock_connector(self, *, evse: EVSE, connector_id: str, timeout: float) -> GatewayResult: ...

    def reserve_now(
        self, *, reservation: Reservation, evse: EVSE | None, expiry_date: datetime, timeout: float
    ) -> GatewayResult: ...

    def cancel_reservation(self, *, reservation: Reservation, timeout: float) -> GatewayResult: ...

    # Optional (looked up with getattr): told when a reservation's expiry_date has passed. Charge points clear
    # their own expired reservations (OCPP); a gateway that must be told, like the simulator, implements it.
    # def reservation_expired(self, *, reservation: Reservation) -> None: ...

    def set_charging_profile(
        self, *, session: ChargingSession, charging_profile: dict[str, Any], timeout: float
    ) -> GatewayResult: ...

    def clear_charging_profile(self, *, session: ChargingSession, timeout: float) -> GatewayResult: ...

    def get_active_charging_profile(
        self, *, session: ChargingSession, duration: int, timeout: float
    ) -> GatewayResult: ...


def get_gateway() -> ChargePointGateway:
    """The configured gateway (settings.OCPI_GATEWAY), a fresh instance per call (settings may change)."""
    path = getattr(settings, "OCPI_GATEWAY", DEFAULT_GATEWAY) or DEFAULT_GATEWAY
    return import_string(path)()


def command_timeout() -> float:
    """Seconds a charge point gets to answer a command (settings.OCPI_COMMAND_TIMEOUT_SECONDS, default 30)."""
    return float(getattr(settings, "OCPI_COMMAND_TIMEOUT_SECONDS", 30))


__all__ = [
    "DEFAULT_GATEWAY",
    "ChargePointGateway",
    "GatewayEventError",
    "GatewayResult",
    "command_timeout",
    "get_gateway",
]
