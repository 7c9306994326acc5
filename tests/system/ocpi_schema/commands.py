"""Commands module objects (commands.md 4-5): the five command bodies, CommandResponse and CommandResult."""

from typing import Literal, Self

from pydantic import model_validator

from .tokens import Token
from .types import URL, CiString, DateTime, DisplayText, Int, OcpiModel

CommandType = Literal["CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"]
CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"]
CommandResultType = Literal[
    "ACCEPTED",
    "CANCELED_RESERVATION",
    "EVSE_OCCUPIED",
    "EVSE_INOPERATIVE",
    "FAILED",
    "NOT_SUPPORTED",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN_RESERVATION",
]


class StartSession(OcpiModel):
    response_url: URL
    token: Token
    location_id: CiString(36)
    evse_uid: CiString(36) | None = None
    connector_id: CiString(36) | None = None
    authorization_reference: CiString(36) | None = None

    @model_validator(mode="after")
    def _evse_with_connector(self) -> Self:
        if self.connector_id and not self.evse_uid:
            raise ValueError("evse_uid is required when connector_id is set")
        return self


class StopSession(OcpiModel):
    response_url: URL
    session_id: CiString(36)


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString(36)
    location_id: CiString(36)
    evse_uid: CiString(36) | None = None
    authorization_reference: CiString(36) | None = None


class CancelReservation(OcpiModel):
    response_url: URL
    reservation_id: CiString(36)


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: CiString(36)
    evse_uid: CiString(36)
    connector_id: CiString(36)


class CommandResponse(OcpiModel):
    result: CommandResponseType
    timeout: Int
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    result: CommandResultType
    message: list[DisplayText] | None = None


COMMAND_BODIES: dict[str, type[OcpiModel]] = {
    "CANCEL_RESERVATION": CancelReservation,
    "RESERVE_NOW": ReserveNow,
    "START_SESSION": StartSession,
    "STOP_SESSION": StopSession,
    "UNLOCK_CONNECTOR": UnlockConnector,
}
