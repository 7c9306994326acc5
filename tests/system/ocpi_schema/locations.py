"""Locations module objects (locations.md 4-6): Location, EVSE, Connector and their classes and enums."""

from typing import Literal, Self

from pydantic import model_validator

from .types import (
    URL,
    CiString,
    Country,
    CountryCode,
    DateTime,
    DisplayText,
    Int,
    IntDigits,
    Matching,
    NonEmpty,
    Number,
    OcpiModel,
    PartyId,
    String,
)

Capability = Literal[
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "CHIP_CARD_SUPPORT",
    "CONTACTLESS_CARD_SUPPORT",
    "CREDIT_CARD_PAYABLE",
    "DEBIT_CARD_PAYABLE",
    "PED_TERMINAL",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "START_SESSION_CONNECTOR_REQUIRED",
    "TOKEN_GROUP_CAPABLE",
    "UNLOCK_CAPABLE",
]
ConnectorFormat = Literal["SOCKET", "CABLE"]
ConnectorType = Literal[
    "CHADEMO",
    "CHAOJI",
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
    "DOMESTIC_M",
    "DOMESTIC_N",
    "DOMESTIC_O",
    "GBT_AC",
    "GBT_DC",
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
    "NEMA_5_20",
    "NEMA_6_30",
    "NEMA_6_50",
    "NEMA_10_30",
    "NEMA_10_50",
    "NEMA_14_30",
    "NEMA_14_50",
    "PANTOGRAPH_BOTTOM_UP",
    "PANTOGRAPH_TOP_DOWN",
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
    "BIKE_SHARING",
    "BUS_STOP",
    "TAXI_STAND",
    "TRAM_STOP",
    "METRO_STATION",
    "TRAIN_STATION",
    "AIRPORT",
    "PARKING_LOT",
    "CARPOOL_PARKING",
    "FUEL_STATION",
    "WIFI",
]
ImageCategory = Literal["CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"]
ParkingRestriction = Literal["EV_ONLY", "PLUGGED", "DISABLED", "CUSTOMERS", "MOTORCYCLES"]
ParkingType = Literal[
    "ALONG_MOTORWAY", "PARKING_GARAGE", "PARKING_LOT", "ON_DRIVEWAY", "ON_STREET", "UNDERGROUND_GARAGE"
]
PowerType = Literal["AC_1_PHASE", "AC_2_PHASE", "AC_2_PHASE_SPLIT", "AC_3_PHASE", "DC"]
Status = Literal[
    "AVAILABLE", "BLOCKED", "CHARGING", "INOPERATIVE", "OUTOFORDER", "PLANNED", "REMOVED", "RESERVED", "UNKNOWN"
]
TokenType = Literal["AD_HOC_USER", "APP_USER", "OTHER", "RFID"]

Latitude = Matching(10, r"^-?[0-9]{1,2}\.[0-9]{5,7}$")
Longitude = Matching(11, r"^-?[0-9]{1,3}\.[0-9]{5,7}$")
LocalTime = Matching(5, r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")


class GeoLocation(OcpiModel):
    latitude: Latitude
    longitude: Longitude


class AdditionalGeoLocation(OcpiModel):
    latitude: Latitude
    longitude: Longitude
    name: DisplayText | None = None


class Image(OcpiModel):
    url: URL
    thumbnail: URL | None = None
    category: ImageCategory
    type: CiString(4)
    width: IntDigits(5) | None = None
    height: IntDigits(5) | None = None


class BusinessDetails(OcpiModel):
    name: String(100)
    website: URL | None = None
    logo: Image | None = None


class EnergySource(OcpiModel):
    source: EnergySourceCategory
    percentage: Number

    @model_validator(mode="after")
    def _percentage(self) -> Self:
        if not 0 <= self.percentage <= 100:
            raise ValueError("percentage must be 0-100")
        return self


class EnvironmentalImpact(OcpiModel):
    category: EnvironmentalImpactCategory
    amount: Number


class EnergyMix(OcpiModel):
    is_green_energy: bool
    energy_sources: list[EnergySource] | None = None
    environ_impact: list[EnvironmentalImpact] | None = None
    supplier_name: String(64) | None = None
    energy_product_name: String(64) | None = None


class ExceptionalPeriod(OcpiModel):
    period_begin: DateTime
    period_end: DateTime


class RegularHours(OcpiModel):
    weekday: IntDigits(1)
    period_begin: LocalTime
    period_end: LocalTime

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if not 1 <= self.weekday <= 7:
            raise ValueError("weekday must be 1 (Monday) .. 7 (Sunday)")
        if self.period_end <= self.period_begin:
            raise ValueError("period_end must be later than period_begin")
        return self


class Hours(OcpiModel):
    twentyfourseven: bool
    regular_hours: list[RegularHours] | None = None
    exceptional_openings: list[ExceptionalPeriod] | None = None
    exceptional_closings: list[ExceptionalPeriod] | None = None

    @model_validator(mode="after")
    def _regular_hours_iff_not_247(self) -> Self:
        if self.twentyfourseven and self.regular_hours:
            raise ValueError("regular_hours only when twentyfourseven is false")
        if not self.twentyfourseven and not self.regular_hours:
            raise ValueError("regular_hours needs at least one entry when twentyfourseven is false")
        return self


class PublishTokenType(OcpiModel):
    uid: CiString(36) | None = None
    type: TokenType | None = None
    visual_number: String(64) | None = None
    issuer: String(64) | None = None
    group_id: CiString(36) | None = None

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if not (self.uid or self.visual_number or self.group_id):
            raise ValueError("one of uid, visual_number, group_id SHALL be set")
        if self.uid and not self.type:
            raise ValueError("type SHALL be set when uid is set")
        if self.visual_number and not self.issuer:
            raise ValueError("issuer SHALL be set when visual_number is set")
        return self


class StatusSchedule(OcpiModel):
    period_begin: DateTime
    period_end: DateTime | None = None
    status: Status


class Connector(OcpiModel):
    id: CiString(36)
    standard: ConnectorType
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: Int
    max_amperage: Int
    max_electric_power: Int | None = None
    tariff_ids: list[CiString(36)] | None = None
    terms_and_conditions: URL | None = None
    last_updated: DateTime


class EVSE(OcpiModel):
    uid: CiString(36)
    evse_id: CiString(48) | None = None
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
    country_code: CountryCode
    party_id: PartyId
    id: CiString(36)
    publish: bool
    publish_allowed_to: list[PublishTokenType] | None = None
    name: String(255) | None = None
    address: String(255)
    city: String(45)
    postal_code: String(10) | None = None
    state: String(45) | None = None
    country: Country
    coordinates: GeoLocation
    related_locations: list[AdditionalGeoLocation] | None = None
    parking_type: ParkingType | None = None
    evses: list[EVSE] | None = None
    directions: list[DisplayText] | None = None
    operator: BusinessDetails | None = None
    suboperator: BusinessDetails | None = None
    owner: BusinessDetails | None = None
    facilities: list[Facility] | None = None
    time_zone: String(255)
    opening_times: Hours | None = None
    charging_when_closed: bool | None = None
    images: list[Image] | None = None
    energy_mix: EnergyMix | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _publish_allowed_to_only_unpublished(self) -> Self:
        if self.publish and self.publish_allowed_to:
            raise ValueError("publish_allowed_to only when publish is false")
        return self
