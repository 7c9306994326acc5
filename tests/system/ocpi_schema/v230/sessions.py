"""OCPI 2.3.0 Sessions module objects (mod_sessions.asciidoc 4-5, mod_cdrs.asciidoc 4): Session, CdrToken and the
2.3.0 Price (types: Price {before_taxes, taxes} and TaxAmount, North American taxes). ChargingPreferences,
ChargingPeriod and CdrDimension are those of 2.2.1."""

from ..sessions import AuthMethod, ChargingPeriod, ChargingPreferences, SessionStatus
from ..types import CiString, CountryCode, Currency, DateTime, Number, OcpiModel, PartyId, String
from .tokens import TokenType

__all__ = ["CdrToken", "ChargingPreferences", "Price", "Session", "TaxAmount"]


class TaxAmount(OcpiModel):
    name: String(255)
    account_number: String(255) | None = None
    percentage: Number | None = None
    amount: Number


class Price(OcpiModel):
    before_taxes: Number
    taxes: list[TaxAmount] | None = None


class CdrToken(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    uid: CiString(36)
    type: TokenType
    contract_id: CiString(36)


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
