"""HubClientInfo module objects (hubclientinfo.md 5): ClientInfo."""

from typing import Literal

from .types import CountryCode, DateTime, OcpiModel, PartyId, Role

ConnectionStatus = Literal["CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"]


class ClientInfo(OcpiModel):
    party_id: PartyId
    country_code: CountryCode
    role: Role
    status: ConnectionStatus
    last_updated: DateTime
