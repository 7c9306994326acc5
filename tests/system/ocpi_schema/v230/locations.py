"""OCPI 2.3.0 Locations objects (mod_locations.asciidoc): Location, EVSE, Connector, Parking, their classes and
enums.

Strict and closed like the 2.2.1 models. The OpenEnums (Capability, ConnectorType, Facility, ImageCategory,
ParkingRestriction, ParkingType, VehicleType, ...) are checked against the values 2.3.0 lists: what we send
uses no extension value. Classes 2.3.0 did not change come from the 2.2.1 package.
"""

from typing import Literal, Self

from pydantic import model_validator

from ..locations import (
    AdditionalGeoLocation,
    BusinessDetails,
    Capability,
    ConnectorFormat,
    EnergyMix,
    Facility,
    GeoLocation,
    Hours,
    Image,
    ParkingType,
    PowerType,
    PublishTokenType,
    Status,
    StatusSchedule,
)
from ..locations import ConnectorType as ConnectorType221
from ..types import (
    URL,
    CiString,
    Country,
    CountryCode,
    DateTime,
    DisplayText,
    Int,
    NonEmpty,
    Number,
    OcpiModel,
    PartyId,
    String,
)

ConnectorCapability = Literal["ISO_15118_2_PLUG_AND_CHARGE", "ISO_15118_20_PLUG_AND_CHARGE"]
ConnectorType = ConnectorType221 | Literal["MCS", "SAE_J3400"]
EVSEPosition = Literal["LEFT", "RIGHT", "CENTER"]
ParkingDirection = Literal["PARALLEL", "PERPENDICULAR", "ANGLE"]
ParkingRestriction = Literal[
    "CUSTOMERS", "DISABLED", "EMPLOYEES", "EV_ONLY", "MOTORCYCLES", "PLUGGED", "TAXIS", "TENANTS"
]
VehicleType = Literal[
    "MOTORCYCLE",
    "PERSONAL_VEHICLE",
    "PERSONAL_VEHICLE_WITH_TRAILER",
    "VAN",
    "SEMI_TRACTOR",
    "RIGID",
    "TRUCK_WITH_TRAILER",
    "BUS",
    "DISABLED",
]


class Parking(OcpiModel):
    id: CiString(36)
    physical_reference: String(12) | None = None
    vehicle_types: NonEmpty(VehicleType)
    max_vehicle_weight: Number | None = None
    max_vehicle_height: Number | None = None
    max_vehicle_length: Number | None = None
    max_vehicle_width: Number | None = None
    parking_space_length: Number | None = None
    parking_space_width: Number | None = None
    dangerous_goods_allowed: bool | None = None
    direction: ParkingDirection | None = None
    drive_through: bool | None = None
    restricted_to_type: bool
    reservation_required: bool
    time_limit: Number | None = None
    roofed: bool | None = None
    images: list[Image] | None = None
    lighting: bool | None = None
    refrigeration_outlet: bool | None = None
    standards: list[CiString(36)] | None = None
    apds_reference: CiString(255) | None = None


class EVSEParking(OcpiModel):
    parking_id: CiString(36)
    evse_position: EVSEPosition | None = None


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
    capabilities: list[ConnectorCapability] | None = None
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
    parking: list[EVSEParking] | None = None
    images: list[Image] | None = None
    accepted_service_providers: list[String(50)] | None = None
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
    parking_places: list[Parking] | None = None
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
    help_phone: CiString(25) | None = None
    last_updated: DateTime

    @model_validator(mode="after")
    def _rules(self) -> Self:
        if self.publish and self.publish_allowed_to:
            raise ValueError("publish_allowed_to only when publish is false")
        parking_ids = {parking.id.upper() for parking in self.parking_places or []}
        for evse in self.evses or []:
            for link in evse.parking or []:
                if link.parking_id.upper() not in parking_ids:
                    raise ValueError(f"EVSE {evse.uid} refers to unknown parking {link.parking_id}")
        return self
