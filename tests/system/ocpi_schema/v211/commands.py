"""OCPI 2.1.1 Commands module objects (mod_commands.md 3-4): the four command bodies and CommandResponse (both the
synchronous answer and the asynchronous result POSTed to response_url). There is no CancelReservation in 2.1.1."""

from typing import Literal

from ..types import URL, CiString, DateTime, Int, OcpiModel
from .tokens import Token

CommandType = Literal["RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"]
CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "TIMEOUT", "UNKNOWN_SESSION"]


class CommandResponse(OcpiModel):
    result: CommandResponseType


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: Int
    location_id: CiString(39)
    evse_uid: CiString(39) | None = None


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: CiString(39)
    evse_uid: CiString(39) | None = None


class StopSession(OcpiModel):
    response_url: URL
    session_id: CiString(36)


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: CiString(39)
    evse_uid: CiString(39)
    connector_id: CiString(36)


COMMAND_BODIES: dict[str, type[OcpiModel]] = {
    "RESERVE_NOW": ReserveNow,
    "START_SESSION": StartSession,
    "STOP_SESSION": StopSession,
    "UNLOCK_CONNECTOR": UnlockConnector,
}
