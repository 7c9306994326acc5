"""OCPI 2.3.0 CDRs module objects (mod_cdrs.asciidoc 4): CDR and CdrLocation (ConnectorType with the 2.3.0 values);
SignedData, ChargingPeriod as in 2.2.1; Prices are 2.3.0 Prices, tariffs 2.3.0 Tariffs (v230/tariffs.py)."""

from typing import Self

from pydantic import model_validator

from ..cdrs import SignedData
from ..locations import ConnectorFormat, GeoLocation, PowerType
from ..sessions import SESSION_ONLY_DIMENSIONS, AuthMethod, ChargingPeriod
from ..types import CiString, Country, CountryCode, Currency, DateTime, NonEmpty, Number, OcpiModel, PartyId, String
from .locations import ConnectorType
from .sessions import CdrToken, Price
from .tariffs import Tariff


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
