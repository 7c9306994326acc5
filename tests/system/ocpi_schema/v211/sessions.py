"""OCPI 2.1.1 Sessions module objects (mod_sessions.md 3-4) with the CDR value types they use (mod_cdrs.md 4);
the Location a Session or CDR embeds is the 2.1.1 Location (v211/locations.py) with one EVSE and one connector.

2.1.1 `string` is printable ASCII (types.md 1.5): CiString's pattern, case kept.
"""

from typing import Literal, Self

from pydantic import model_validator

from ..types import CiString, Currency, DateTime, NonEmpty, Number, OcpiModel
from .locations import Location

AuthMethod = Literal["AUTH_REQUEST", "WHITELIST"]
CdrDimensionType = Literal["ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"]
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING"]


class SessionLocation(Location):
    """The Location of a Session or CDR: "including only the relevant EVSE and connector" (mod_sessions.md 3.1)."""

    @model_validator(mode="after")
    def _one_evse_one_connector(self) -> Self:
        if not self.evses or len(self.evses) != 1 or len(self.evses[0].connectors) != 1:
            raise ValueError("a Session/CDR location holds exactly one EVSE with one connector")
        return self


class CdrDimension(OcpiModel):
    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    start_date_time: DateTime
    dimensions: NonEmpty(CdrDimension)


class Session(OcpiModel):
    id: CiString(36)
    start_datetime: DateTime
    end_datetime: DateTime | None = None
    kwh: Number
    auth_id: CiString(36)
    auth_method: AuthMethod
    location: SessionLocation
    meter_id: CiString(255) | None = None
    currency: Currency
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Number | None = None
    status: SessionStatus
    last_updated: DateTime
