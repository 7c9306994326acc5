"""OCPI 2.1.1 Sessions module objects (mod_sessions.md 3-4) with the CDR value types they use (mod_cdrs.md 4)
and the 2.1.1 Location a Session or CDR embeds (mod_locations.md 3-4: Location, EVSE, Connector and their types).

2.1.1 `string` is printable ASCII (types.md 1.5): CiString's pattern, case kept.
"""

from typing import Literal, Self

from pydantic import model_validator

from ..locations import (
    AdditionalGeoLocation,
    BusinessDetails,
    ConnectorFormat,
    ExceptionalPeriod,
    GeoLocation,
    Image,
    ParkingRestriction,
    RegularHours,
    Status,
    StatusSchedule,
)
from ..types import URL, CiString, Country, Currency, DateTime, DisplayText, Int, NonEmpty, Number, OcpiModel

AuthMethod = Literal["AUTH_REQUEST", "WHITELIST"]
CdrDimensionType = Literal["ENERGY", "FLAT", "MAX_CURRENT", "MIN_CURRENT", "PARKING_TIME", "TIME"]
SessionStatus = Literal["ACTIVE", "COMPLETED", "INVALID", "PENDING"]

Capability = Literal[
    "CHARGING_PROFILE_CAPABLE",
    "CREDIT_CARD_PAYABLE",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "UNLOCK_CAPABLE",
]
ConnectorType = Literal[
    "CHADEMO",
    "DOMESTIC_A",
    "DOMESTIC_B",
    "DOMESTIC_C",
    "DOMESTIC_D",
    "DOMESTIC_E",
    "DOMESTIC_F",
    "DOMESTIC_G",
    "DOMESTIC_H",
    "DOMESTIC_I",
    "DOMESTIC_J",
    "DOMESTIC_K",
    "DOMESTIC_L",
    "IEC_60309_2_single_16",
    "IEC_60309_2_three_16",
    "IEC_60309_2_three_32",
    "IEC_60309_2_three_64",
    "IEC_62196_T1",
    "IEC_62196_T1_COMBO",
    "IEC_62196_T2",
    "IEC_62196_T2_COMBO",
    "IEC_62196_T3A",
    "IEC_62196_T3C",
    "TESLA_R",
    "TESLA_S",
]
EnergySourceCategory = Literal["NUCLEAR", "GENERAL_FOSSIL", "COAL", "GAS", "GENERAL_GREEN", "SOLAR", "WIND", "WATER"]
EnvironmentalImpactCategory = Literal["NUCLEAR_WASTE", "CARBON_DIOXIDE"]
Facility = Literal[
    "HOTEL",
    "RESTAURANT",
    "CAFE",
    "MALL",
    "SUPERMARKET",
    "SPORT",
    "RECREATION_AREA",
    "NATURE",
    "MUSEUM",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAIN_STATION",
    "AIRPORT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
]
LocationType = Literal["ON_STREET", "PARKING_GARAGE", "UNDERGROUND_GARAGE", "PARKING_LOT", "OTHER", "UNKNOWN"]
PowerType = Literal["AC_1_PHASE", "AC_3_PHASE", "DC"]


class EnergySource(OcpiModel):
    source: EnergySourceCategory
    percentage: Number


class EnvironmentalImpact(OcpiModel):
    source: EnvironmentalImpactCategory  # 2.1.1 names it `source` (2.2.1: `category`)
    amount: Number


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: CiString(64) | None = None
    energy_product_name: CiString(64) | None = None


class Hours(OcpiModel):
    """mod_locations.md 4.13: a choice of regular_hours or twentyfourseven, plus the exceptions."""

    regular_hours: list[RegularHours] | None = None
    twentyfourseven: bool | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @model_validator(mode="after")
    def _one_of_two(self) -> Self:
        if (self.regular_hours is None) == (self.twentyfourseven is None):
            raise ValueError("exactly one of regular_hours and twentyfourseven")
        return self


class Connector(OcpiModel):
    id: CiString(36)
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    voltage: Int
    amperage: Int
    tariff_id: CiString(36) | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: CiString(39)
    evse_id: CiString(48) | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: NonEmpty(Connector)
    floor_level: CiString(4) | None = None
    coordinates: GeoLocation | None = None
    physical_reference: CiString(16) | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class Location(OcpiModel):
    id: CiString(39)
    type: LocationType
    name: CiString(255) | None = None
    address: CiString(45)
    city: CiString(45)
    postal_code: CiString(10)
    country: Country
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: CiString(255) | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime


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
