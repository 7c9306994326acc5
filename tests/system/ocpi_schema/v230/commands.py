"""OCPI 2.3.0 Commands module objects (mod_commands.asciidoc 4-5): as 2.2.1, with the 2.3.0 Token (TokenType
EMAID) in StartSession and ReserveNow."""

from typing import Self

from pydantic import model_validator

from ..commands import CancelReservation, CommandResponse, CommandResult, StopSession, UnlockConnector
from ..types import URL, CiString, DateTime, OcpiModel
from .tokens import Token

__all__ = [
    "CancelReservation",
    "CommandResponse",
    "CommandResult",
    "ReserveNow",
    "StartSession",
    "StopSession",
    "UnlockConnector",
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


class ReserveNow(OcpiModel):
    response_url: URL
    token: Token
    expiry_date: DateTime
    reservation_id: CiString(36)
    location_id: CiString(36)
    evse_uid: CiString(36) | None = None
    authorization_reference: CiString(36) | None = None
