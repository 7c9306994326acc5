"""Sessions module objects (sessions.md 4-5, cdrs.md 4.3-4.5): Session, ChargingPeriod, CdrDimension, CdrToken,
ChargingPreferences."""

from typing import Literal

from .locations import TokenType
from .tokens import ProfileType
from .types import (
    CiString,
    CountryCode,
    Currency,
    DateTime,
    NonEmpty,
    Number,
    OcpiModel,
    PartyId,
    Price,
    String,
)

AuthMethod = Literal["AUTH_REQUEST", "COMMAND", "WHITELIST"]
CdrDimensionType = Literal[
    "CURRENT",
    "ENERGY",
    "ENERGY_EXPORT",
    "ENERGY_IMPORT",
    "MAX_CURRENT",
    "MIN_CURRENT",
    "MAX_POWER",
    "MIN_POWER",
    "PARKING_TIME",
    "POWER",
    "RESERVATION_TIME",
    "STATE_OF_CHARGE",
    "TIME",
]
# Dimension types a CDR SHALL NOT use (cdrs.md 5, column S).
SESSION_ONLY_DIMENSIONS = frozenset({"CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"})
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"]
ChargingPreferencesResponse = Literal[
    "ACCEPTED", "DEPARTURE_REQUIRED", "ENERGY_NEED_REQUIRED", "NOT_POSSIBLE", "PROFILE_TYPE_NOT_SUPPORTED"
]


class CdrToken(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    uid: CiString(36)
    type: TokenType
    contract_id: CiString(36)


class CdrDimension(OcpiModel):
    type: CdrDimensionType
    volume: Number


class ChargingPeriod(OcpiModel):
    start_date_time: DateTime
    dimensions: NonEmpty(CdrDimension)
    tariff_id: CiString(36) | None = None


class Session(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    id: CiString(36)
    start_date_time: DateTime
    end_date_time: DateTime | None = None
    kwh: Number
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString(36) | None = None
    location_id: CiString(36)
    evse_uid: CiString(36)
    connector_id: CiString(36)
    meter_id: String(255) | None = None
    currency: Currency
    charging_periods: list[ChargingPeriod] | None = None
    total_cost: Price | None = None
    status: SessionStatus
    last_updated: DateTime


class ChargingPreferences(OcpiModel):
    profile_type: ProfileType
    departure_time: DateTime | None = None
    energy_need: Number | None = None
    discharge_allowed: bool | None = None
