"""OCPI 2.1.1 Locations objects (mod_locations.md 3-4): Location, EVSE, Connector, their classes and enums.

Strict and closed like the 2.2.1 models. 2.1.1 `string` is printable ASCII (types.md 1.5) and GeoLocation has
exactly six decimals (4.12); the classes 2.1.1 shares with 2.2.1 unchanged (Image, BusinessDetails,
RegularHours, ExceptionalPeriod, StatusSchedule, EnergySource) come from the 2.2.1 package.
"""

from typing import Literal, Self

from pydantic import model_validator

from ..locations import (
    BusinessDetails,
    ConnectorFormat,
    EnergySource,
    EnvironmentalImpactCategory,
    ExceptionalPeriod,
    Image,
    ParkingRestriction,
    RegularHours,
    Status,
    StatusSchedule,
)
from ..types import URL, Country, DateTime, DisplayText, Int, Matching, NonEmpty, Number, OcpiModel


def String(n: int):  # noqa: N802 - named after the spec type
    """2.1.1 string(n): printable ASCII (types.md 1.5), at most n characters."""
    return Matching(n, r"^[\x20-\x7E]*$")


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

Latitude = Matching(10, r"^-?[0-9]{1,2}\.[0-9]{6}$")
Longitude = Matching(11, r"^-?[0-9]{1,3}\.[0-9]{6}$")


class GeoLocation(OcpiModel):
    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(OcpiModel):
    latitude: Latitude
    longitude: Longitude
    name: DisplayText | None = None


class EnvironmentalImpact(OcpiModel):
    """4.8: the category field is called `source` in 2.1.1 (renamed `category` in 2.2)."""

    source: EnvironmentalImpactCategory
    amount: Number


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String(64) | None = None
    energy_product_name: String(64) | None = None


class Hours(OcpiModel):
    """4.13: a choice of regular_hours or twentyfourseven (2.2 made twentyfourseven always required)."""

    regular_hours: list[RegularHours] | None = None
    twentyfourseven: bool | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @model_validator(mode="after")
    def _one_of_two(self) -> Self:
        if not self.regular_hours and self.twentyfourseven is not True:
            raise ValueError("either regular_hours or twentyfourseven=true")
        if self.regular_hours and self.twentyfourseven:
            raise ValueError("regular_hours and twentyfourseven=true exclude each other")
        return self


class Connector(OcpiModel):
    id: String(36)
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    voltage: Int
    amperage: Int
    tariff_id: String(36) | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: String(39)
    evse_id: String(48) | None = None
    status: Status
    status_schedule: list[StatusSchedule] | None = None
    capabilities: list[Capability] | None = None
    connectors: NonEmpty(Connector)
    floor_level: String(4) | None = None
    coordinates: GeoLocation | None = None
    physical_reference: String(16) | None = None
    directions: list[DisplayText] | None = None
    parking_restrictions: list[ParkingRestriction] | None = None
    images: list[Image] | None = None
    last_updated: DateTime


class Location(OcpiModel):
    id: String(39)
    type: LocationType
    name: String(255) | None = None
    address: String(45)
    city: String(45)
    postal_code: String(10)
    country: Country
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: String(255) | None = None
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime
