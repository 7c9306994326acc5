"""CDRs module objects (cdrs.md 4): CDR, CdrLocation, SignedData, SignedValue."""

from typing import Self

from pydantic import model_validator

from .locations import ConnectorFormat, ConnectorType, GeoLocation, PowerType
from .sessions import SESSION_ONLY_DIMENSIONS, AuthMethod, CdrToken, ChargingPeriod
from .tariffs import Tariff
from .types import (
    CiString,
    Country,
    CountryCode,
    Currency,
    DateTime,
    Int,
    NonEmpty,
    Number,
    OcpiModel,
    PartyId,
    Price,
    String,
)


class CdrLocation(OcpiModel):
    id: CiString(36)
    name: String(255) | None = None
    address: String(45)
    city: String(45)
    postal_code: String(10) | None = None
    state: String(20) | None = None
    country: Country
    coordinates: GeoLocation
    evse_uid: CiString(36)
    evse_id: CiString(48)
    connector_id: CiString(36)
    connector_standard: ConnectorType
    connector_format: ConnectorFormat
    connector_power_type: PowerType


class SignedValue(OcpiModel):
    nature: CiString(32)
    plain_data: String(5000)
    signed_data: String(5000)


class SignedData(OcpiModel):
    encoding_method: CiString(36)
    encoding_method_version: Int | None = None
    public_key: String(512) | None = None
    signed_values: NonEmpty(SignedValue)
    url: String(512) | None = None


class CDR(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    id: CiString(39)
    start_date_time: DateTime
    end_date_time: DateTime
    session_id: CiString(36) | None = None
    cdr_token: CdrToken
    auth_method: AuthMethod
    authorization_reference: CiString(36) | None = None
    cdr_location: CdrLocation
    meter_id: String(255) | None = None
    currency: Currency
    tariffs: list[Tariff] | None = None
    charging_periods: NonEmpty(ChargingPeriod)
    signed_data: SignedData | None = None
    total_cost: Price
    total_fixed_cost: Price | None = None
    total_energy: Number
    total_energy_cost: Price | None = None
    total_time: Number
    total_time_cost: Price | None = None
    total_parking_time: Number | None = None
    total_parking_cost: Price | None = None
    total_reservation_cost: Price | None = None
    remark: String(255) | None = None
    invoice_reference_id: CiString(39) | None = None
    credit: bool | None = None
    credit_reference_id: CiString(39) | None = None
    home_charging_compensation: bool | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.credit and not self.credit_reference_id:
            raise ValueError("credit_reference_id is required for a Credit CDR")
        if not self.credit and len(self.id) > 36:
            raise ValueError("a non-credit CDR id SHALL be at most 36 characters")
        used = {d.type for period in self.charging_periods for d in period.dimensions} & SESSION_ONLY_DIMENSIONS
        if used:
            raise ValueError(f"dimension types {sorted(used)} SHALL NOT be used in CDRs")
        return self
