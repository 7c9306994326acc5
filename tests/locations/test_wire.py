"""Locations wire converters (locations/wire.py): OCPI 2.1.1 and 2.3.0 Location, EVSE and Connector <-> 2.2.1.

(a) hand-written objects of each version (written from that version's field tables) convert into 2.2.1 that our
serializers accept; (b) what our 2.2.1 code serves converts out into objects the version's pydantic models
accept; (c) version -> 2.2.1 -> version keeps every field both carry; (d) PATCH fragments add no field.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from locations.api.serializers import (
    ConnectorSerializer,
    EvseSerializer,
    LocationSerializer,
    connector_to_ocpi,
    evse_to_ocpi,
    location_to_ocpi,
)
from locations.wire import carriable
from ocpi_platform.ocpi.wire import V211, V230, WireContext, from_wire, registered, to_wire
from tests.system.ocpi_schema.v211 import locations as v211
from tests.system.ocpi_schema.v230 import locations as v230

from .factories import ConnectorFactory, EvseFactory, LocationFactory

CTX = WireContext(country_code="FI", party_id="EXC")
PATCH = WireContext(partial=True)
T = "2024-03-01T10:00:00Z"

# --- OCPI 2.1.1 objects (mod_locations.md 3.1-3.3, 4) -------------------------------------------------------

CONNECTOR_211 = {
    "id": "1",
    "standard": "IEC_62196_T2",
    "format": "SOCKET",
    "power_type": "AC_3_PHASE",
    "voltage": 230,
    "amperage": 32,
    "tariff_id": "TARIFF-AC",
    "terms_and_conditions": "https://charging.example.com/terms",
    "last_updated": T,
}
CONNECTOR_211_MIN = {
    "id": "2",
    "standard": "CHADEMO",
    "format": "CABLE",
    "power_type": "DC",
    "voltage": 500,
    "amperage": 125,
    "last_updated": T,
}
EVSE_211 = {
    "uid": "EVSE-211-1",
    "evse_id": "FI-EXC-E0001",  # the dashed eMI3 form of the 2.1.1 examples
    "status": "AVAILABLE",
    "status_schedule": [
        {"period_begin": "2024-04-01T00:00:00Z", "period_end": "2024-04-02T00:00:00Z", "status": "INOPERATIVE"}
    ],
    "capabilities": ["RESERVABLE", "REMOTE_START_STOP_CAPABLE", "RFID_READER"],
    "connectors": [CONNECTOR_211, CONNECTOR_211_MIN],
    "floor_level": "-1",
    "coordinates": {"latitude": "60.167600", "longitude": "24.952400"},
    "physical_reference": "P1",
    "directions": [{"language": "en", "text": "Left of the lifts"}],
    "parking_restrictions": ["EV_ONLY", "CUSTOMERS"],
    "images": [{"url": "https://img.example.com/evse.jpg", "category": "CHARGER", "type": "jpeg"}],
    "last_updated": T,
}
EVSE_211_MIN = {"uid": "EVSE-211-2", "status": "UNKNOWN", "connectors": [CONNECTOR_211_MIN], "last_updated": T}
LOCATION_211 = {
    "id": "LOC-211-1",
    "type": "PARKING_GARAGE",
    "name": "Kauppatori garage",
    "address": "Pohjoisesplanadi 11",
    "city": "Helsinki",
    "postal_code": "00100",
    "country": "FIN",
    "coordinates": {"latitude": "60.167580", "longitude": "24.952350"},
    "related_locations": [
        {"latitude": "60.167700", "longitude": "24.953000", "name": {"language": "en", "text": "Car entrance"}}
    ],
    "evses": [EVSE_211, EVSE_211_MIN],
    "directions": [{"language": "fi", "text": "Kerros -1"}],
    "operator": {"name": "Example Charging Oy", "website": "https://charging.example.com"},
    "suboperator": {"name": "Garage Oy"},
    "owner": {
        "name": "Example City",
        "logo": {"url": "https://img.example.com/logo.png", "category": "OWNER", "type": "png", "width": 512},
    },
    "facilities": ["MALL", "WIFI"],
    "time_zone": "Europe/Helsinki",
    "opening_times": {  # 2.1.1 4.13: regular_hours instead of twentyfourseven
        "regular_hours": [
            {"weekday": 1, "period_begin": "07:00", "period_end": "22:00"},
            {"weekday": 6, "period_begin": "09:00", "period_end": "18:00"},
        ],
        "exceptional_closings": [{"period_begin": "2024-12-25T00:00:00Z", "period_end": "2024-12-26T00:00:00Z"}],
    },
    "charging_when_closed": False,
    "images": [{"url": "https://img.example.com/garage.jpg", "category": "ENTRANCE", "type": "jpeg", "height": 600}],
    "energy_mix": {
        "is_green_energy": False,
        "energy_sources": [{"source": "WIND", "percentage": 60}, {"source": "NUCLEAR", "percentage": 40}],
        "environ_impact": [{"source": "NUCLEAR_WASTE", "amount": 0.0005}, {"source": "CARBON_DIOXIDE", "amount": 12}],
        "supplier_name": "Example Energy",
    },
    "last_updated": T,
}
LOCATION_211_MIN = {
    "id": "LOC-211-2",
    "type": "OTHER",
    "address": "Mannerheimintie 1",
    "city": "Helsinki",
    "postal_code": "00100",
    "country": "FIN",
    "coordinates": {"latitude": "60.169857", "longitude": "24.938379"},
    "last_updated": T,
}

# --- OCPI 2.3.0 objects (mod_locations.asciidoc: Location, EVSE, Connector, Parking objects) -----------------

CONNECTOR_230 = {
    "id": "1",
    "standard": "IEC_62196_T2_COMBO",
    "format": "CABLE",
    "power_type": "DC",
    "max_voltage": 920,
    "max_amperage": 400,
    "max_electric_power": 150000,
    "tariff_ids": ["TARIFF-DC", "TARIFF-ADHOC"],
    "terms_and_conditions": "https://charging.example.com/terms",
    "capabilities": ["ISO_15118_2_PLUG_AND_CHARGE"],
    "last_updated": T,
}
CONNECTOR_230_MIN = {
    "id": "2",
    "standard": "SAE_J3400",
    "format": "CABLE",
    "power_type": "DC",
    "max_voltage": 500,
    "max_amperage": 250,
    "last_updated": T,
}
EVSE_230 = {
    "uid": "EVSE-230-1",
    "evse_id": "DE*EXC*E0001",
    "status": "CHARGING",
    "capabilities": ["CHARGING_PROFILE_CAPABLE", "PED_TERMINAL"],
    "connectors": [CONNECTOR_230, CONNECTOR_230_MIN],
    "floor_level": "0",
    "coordinates": {"latitude": "52.52001", "longitude": "13.404954"},
    "physical_reference": "A-1",
    "parking_restrictions": ["EV_ONLY", "EMPLOYEES"],
    "parking": [{"parking_id": "P-1", "evse_position": "LEFT"}],
    "images": [{"url": "https://img.example.com/hpc.jpg", "category": "CHARGER", "type": "jpeg"}],
    "accepted_service_providers": ["Example eMSP", "Other eMSP"],
    "last_updated": T,
}
EVSE_230_MCS = {  # a truck charger: no connector 2.2.1 can carry
    "uid": "EVSE-230-MCS",
    "status": "AVAILABLE",
    "connectors": [
        {
            "id": "1",
            "standard": "MCS",
            "format": "CABLE",
            "power_type": "DC",
            "max_voltage": 1250,
            "max_amperage": 3000,
            "last_updated": T,
        }
    ],
    "last_updated": T,
}
EVSE_230_MIN = {"uid": "EVSE-230-2", "status": "AVAILABLE", "connectors": [CONNECTOR_230_MIN], "last_updated": T}
PARKING_230 = {
    "id": "P-1",
    "physical_reference": "17",
    "vehicle_types": ["PERSONAL_VEHICLE", "VAN"],
    "max_vehicle_height": 275,
    "parking_space_length": 600,
    "parking_space_width": 300,
    "direction": "PERPENDICULAR",
    "drive_through": False,
    "restricted_to_type": True,
    "reservation_required": False,
    "time_limit": 120,
    "roofed": True,
    "lighting": True,
}
LOCATION_230 = {
    "country_code": "DE",
    "party_id": "EXC",
    "id": "LOC-230-1",
    "publish": False,
    "publish_allowed_to": [{"visual_number": "12345-67", "issuer": "Example eMSP"}],
    "name": "Hub Mitte",
    "address": "Alexanderplatz 1",
    "city": "Berlin",
    "postal_code": "10178",
    "state": "Berlin",
    "country": "DEU",
    "coordinates": {"latitude": "52.521918", "longitude": "13.413215"},
    "parking_type": "ALONG_MOTORWAY",
    "evses": [EVSE_230, EVSE_230_MCS, EVSE_230_MIN],
    "parking_places": [PARKING_230],
    "operator": {"name": "Example Charging GmbH"},
    "facilities": ["METRO_STATION", "PARKING_LOT"],
    "time_zone": "Europe/Berlin",
    "opening_times": {"twentyfourseven": True},
    "energy_mix": {"is_green_energy": True, "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": 0}]},
    "help_phone": "+4930123456",
    "last_updated": T,
}
LOCATION_230_MIN = {
    "country_code": "DE",
    "party_id": "EXC",
    "id": "LOC-230-2",
    "publish": True,
    "address": "Unter den Linden 77",
    "city": "Berlin",
    "country": "DEU",
    "coordinates": {"latitude": "52.51629", "longitude": "13.37770"},
    "time_zone": "Europe/Berlin",
    "last_updated": T,
}


def _into(kind: str, data: dict[str, Any], version: str, ctx: WireContext = CTX) -> dict[str, Any]:
    """from_wire, checking it leaves its argument alone."""
    before = copy.deepcopy(data)
    converted = from_wire(kind, data, version, ctx)
    assert data == before
    return converted


def _out(kind: str, data: dict[str, Any], version: str, ctx: WireContext | None = None) -> dict[str, Any]:
    before = copy.deepcopy(data)
    converted = to_wire(kind, data, version, ctx)
    assert data == before
    return converted


def _valid(serializer_class: type, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data, **kwargs)
    assert serializer.is_valid(), serializer.errors
    return serializer.validated_data


def test_register_wire_registers_every_kind_for_both_versions() -> None:
    for kind in ("Location", "Evse", "Connector"):
        assert registered(kind, V211)
        assert registered(kind, V230)


# --- (a) 2.1.1 into 2.2.1 -------------------------------------------------------------------------------------


def test_location_from_211_full_is_valid_221() -> None:
    data = _into("Location", LOCATION_211, V211)

    validated = _valid(LocationSerializer, data)
    assert (data["country_code"], data["party_id"], data["publish"]) == ("FI", "EXC", True)
    assert data["parking_type"] == "PARKING_GARAGE" and "type" not in data
    assert data["opening_times"]["twentyfourseven"] is False
    assert data["energy_mix"]["environ_impact"] == [
        {"category": "NUCLEAR_WASTE", "amount": 0.0005},
        {"category": "CARBON_DIOXIDE", "amount": 12},
    ]
    evse = data["evses"][0]
    assert evse["evse_id"] == "FI*EXC*E0001"
    assert evse["connectors"][0] == {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 32,
        "tariff_ids": ["TARIFF-AC"],
        "terms_and_conditions": "https://charging.example.com/terms",
        "last_updated": T,
    }
    assert validated["evses"][1]["connectors"][0]["max_voltage"] == 500
    assert validated["time_zone"] == "Europe/Helsinki"


def test_location_from_211_minimal_fills_what_221_requires() -> None:
    data = _into("Location", LOCATION_211_MIN, V211)

    _valid(LocationSerializer, data)
    assert (data["country_code"], data["party_id"], data["publish"]) == ("FI", "EXC", True)
    assert "parking_type" not in data  # OTHER: 2.2.1 has no such ParkingType
    assert data["time_zone"] == "Europe/Helsinki"  # the zone whose principal location is nearest


def test_location_from_211_empty_postal_code_and_coordinates_with_fewer_decimals() -> None:
    data = _into(
        "Location",
        {**LOCATION_211_MIN, "postal_code": "", "coordinates": {"latitude": "60.1698", "longitude": "24.93838"}},
        V211,
    )

    _valid(LocationSerializer, data)
    assert "postal_code" not in data
    assert data["coordinates"] == {"latitude": "60.169800", "longitude": "24.93838"}


def test_location_from_211_without_coordinates_or_party_adds_no_guess() -> None:
    body = {key: value for key, value in LOCATION_211_MIN.items() if key != "coordinates"}

    data = _into("Location", body, V211, WireContext())

    assert "country_code" not in data and "party_id" not in data
    assert data["time_zone"] == "UTC"
    assert not LocationSerializer(data=data).is_valid()  # coordinates are required in both versions


def test_evse_and_connector_from_211_alone_are_valid_221() -> None:
    evse = _into("Evse", EVSE_211, V211)
    _valid(EvseSerializer, evse)
    assert evse["evse_id"] == "FI*EXC*E0001"
    assert [c["max_amperage"] for c in evse["connectors"]] == [32, 125]

    evse_min = _into("Evse", EVSE_211_MIN, V211)
    assert _valid(EvseSerializer, evse_min)["connectors"][0]["ocpi_id"] == "2"

    connector = _into("Connector", CONNECTOR_211_MIN, V211)
    assert connector == {
        "id": "2",
        "standard": "CHADEMO",
        "format": "CABLE",
        "power_type": "DC",
        "max_voltage": 500,
        "max_amperage": 125,
        "last_updated": T,
    }
    _valid(ConnectorSerializer, connector)


# --- (a) 2.3.0 into 2.2.1 -------------------------------------------------------------------------------------


def test_location_from_230_full_keeps_the_230_fields_and_maps_the_rest() -> None:
    data = _into("Location", LOCATION_230, V230)

    _valid(LocationSerializer, data)
    assert data["parking_places"] == [PARKING_230] and data["help_phone"] == "+4930123456"
    assert data["facilities"] == ["METRO_STATION", "PARKING_LOT"]
    assert [evse["uid"] for evse in data["evses"]] == ["EVSE-230-1", "EVSE-230-2"]  # the MCS-only EVSE dropped
    evse = data["evses"][0]
    assert evse["parking"] == EVSE_230["parking"]
    assert evse["accepted_service_providers"] == EVSE_230["accepted_service_providers"]
    assert evse["parking_restrictions"] == ["EV_ONLY"]  # EMPLOYEES: no 2.2.1 value
    assert evse["connectors"][0]["capabilities"] == CONNECTOR_230["capabilities"]
    assert evse["connectors"][1]["standard"] == "TESLA_S"  # SAE_J3400
    assert data["publish_allowed_to"] == LOCATION_230["publish_allowed_to"]


def test_location_from_230_minimal_is_unchanged() -> None:
    data = _into("Location", LOCATION_230_MIN, V230)

    assert data == LOCATION_230_MIN
    _valid(LocationSerializer, data)


def test_location_from_230_extension_enum_values() -> None:
    """OpenEnum values 2.2.1 lacks: dropped from lists, parking_type left out, image category OTHER, impacts with
    an unknown category dropped."""
    body = {
        **LOCATION_230_MIN,
        "parking_type": "ON_ROOFTOP",
        "facilities": ["HOTEL", "EV_LOUNGE"],
        "images": [{"url": "https://img.example.com/x.png", "category": "DRONE_VIEW", "type": "png"}],
        "owner": {
            "name": "Owner",
            "logo": {"url": "https://img.example.com/o.png", "category": "BRAND", "type": "png"},
        },
        "energy_mix": {
            "is_green_energy": False,
            "environ_impact": [{"category": "PARTICULATES", "amount": 1}, {"category": "CARBON_DIOXIDE", "amount": 9}],
        },
        "evses": [
            {
                **EVSE_230_MIN,
                "capabilities": ["RFID_READER", "FUTURE_CAPABILITY"],
                "connectors": [{**CONNECTOR_230_MIN, "standard": "FUTURE_PLUG"}, {**CONNECTOR_230, "id": "3"}],
            }
        ],
    }

    data = _into("Location", body, V230)

    validated = _valid(LocationSerializer, data)
    assert "parking_type" not in data
    assert data["facilities"] == ["HOTEL"]
    assert data["images"][0]["category"] == "OTHER"
    assert data["owner"]["logo"]["category"] == "OTHER"
    assert data["energy_mix"]["environ_impact"] == [{"category": "CARBON_DIOXIDE", "amount": 9}]
    assert data["evses"][0]["capabilities"] == ["RFID_READER"]
    assert [c["id"] for c in data["evses"][0]["connectors"]] == ["3"]
    assert validated["evses"][0]["connectors"][0]["max_electric_power"] == 150000


def test_connector_from_230_alone_with_unknown_standard_is_refused_by_221() -> None:
    connector = _into("Connector", {**CONNECTOR_230, "standard": "MCS"}, V230)

    assert connector["standard"] == "MCS"
    serializer = ConnectorSerializer(data=connector)
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"standard"}


def test_evse_and_connector_from_230_alone_are_valid_221() -> None:
    evse = _into("Evse", EVSE_230, V230)
    assert set(EVSE_230) == set(evse)
    _valid(EvseSerializer, evse)

    connector = _into("Connector", CONNECTOR_230, V230)
    assert connector == CONNECTOR_230
    _valid(ConnectorSerializer, connector)
    _valid(ConnectorSerializer, _into("Connector", CONNECTOR_230_MIN, V230))


# --- (b) what our 2.2.1 code produces, out to 2.1.1 and 2.3.0 -------------------------------------------------


def _rich_location() -> Any:
    """A Location using 2.2.1 values 2.1.1 lacks (parking type, facilities, capabilities, connector standards,
    power types, 7-decimal coordinates, state, a long address, no postal code, several tariffs)."""
    location = LocationFactory(
        parking_type="ALONG_MOTORWAY",
        address="Autobahn A2 Raststaette Lappwald Nord, Fahrtrichtung Berlin",
        postal_code="",
        state="Sachsen-Anhalt",
        latitude="52.2904317",
        longitude="11.0461533",
        facilities=["PARKING_LOT", "RESTAURANT", "WIFI"],
        energy_mix={"is_green_energy": True, "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": 0}]},
        publish=False,
        publish_allowed_to=[{"group_id": "FLEET-1"}],
    )
    evse = EvseFactory(
        location=location,
        capabilities=["TOKEN_GROUP_CAPABLE", "RESERVABLE", "CHIP_CARD_SUPPORT"],
        latitude="52.29043",
        longitude="11.04615",
    )
    ConnectorFactory(evse=evse, ocpi_id="1", power_type="AC_2_PHASE", max_electric_power=7400, tariff_ids=["A", "B"])
    ConnectorFactory(evse=evse, ocpi_id="2", standard="NEMA_5_20", tariff_ids=[])
    nema_only = EvseFactory(location=location)
    ConnectorFactory(evse=nema_only, ocpi_id="1", standard="GBT_DC", power_type="DC")
    return location


@pytest.mark.django_db
def test_location_out_211_validates_against_the_211_model() -> None:
    location = _rich_location()

    data = _out("Location", location_to_ocpi(location), V211)

    v211.Location.model_validate(data)
    for absent in ("country_code", "party_id", "publish", "publish_allowed_to", "state", "parking_type"):
        assert absent not in data
    assert data["type"] == "OTHER"
    assert data["postal_code"] == ""
    assert data["address"] == "Autobahn A2 Raststaette Lappwald Nord, Fahrtr"
    assert data["coordinates"] == {"latitude": "52.290432", "longitude": "11.046153"}
    assert data["facilities"] == ["RESTAURANT", "WIFI"]
    assert data["energy_mix"]["environ_impact"] == [{"source": "CARBON_DIOXIDE", "amount": 0}]
    assert len(data["evses"]) == 1  # the GB/T-only EVSE cannot be said in 2.1.1
    evse = data["evses"][0]
    assert evse["capabilities"] == ["RESERVABLE"]
    assert evse["coordinates"] == {"latitude": "52.290430", "longitude": "11.046150"}
    assert [c["id"] for c in evse["connectors"]] == ["1"]  # NEMA_5_20 dropped
    connector = evse["connectors"][0]
    assert (connector["power_type"], connector["voltage"], connector["amperage"]) == ("AC_1_PHASE", 230, 32)
    assert connector["tariff_id"] == "A"
    assert "max_electric_power" not in connector and "tariff_ids" not in connector


@pytest.mark.django_db
def test_plain_location_out_211_gets_type_unknown() -> None:
    location = LocationFactory()
    ConnectorFactory(evse=EvseFactory(location=location))

    data = _out("Location", location_to_ocpi(location), V211)

    v211.Location.model_validate(data)
    assert data["type"] == "UNKNOWN"
    assert data["postal_code"] == "1011AB"


@pytest.mark.django_db
def test_evse_and_connector_out_211_validate() -> None:
    connector = ConnectorFactory(tariff_ids=[])
    evse = connector.evse

    evse_data = _out("Evse", evse_to_ocpi(evse), V211)
    connector_data = _out("Connector", connector_to_ocpi(connector), V211)

    v211.EVSE.model_validate(evse_data)
    v211.Connector.model_validate(connector_data)
    assert "tariff_id" not in connector_data
    assert carriable("Evse", evse_to_ocpi(evse), V211)


@pytest.mark.django_db
def test_connector_out_211_alone_with_a_standard_211_lacks() -> None:
    connector = connector_to_ocpi(ConnectorFactory(standard="NEMA_14_50"))

    assert not carriable("Connector", connector, V211)
    assert carriable("Connector", connector, V230)
    data = _out("Connector", connector, V211)
    assert data["standard"] == "NEMA_14_50"  # kept: the caller asks carriable() first
    with pytest.raises(ValueError, match="standard"):
        v211.Connector.model_validate(data)


@pytest.mark.django_db
def test_location_evse_connector_out_230_validate_and_are_unchanged() -> None:
    location = _rich_location()
    served = location_to_ocpi(location)

    data = _out("Location", served, V230)

    assert data == served
    v230.Location.model_validate(data)
    evse = location.evses.first()
    v230.EVSE.model_validate(_out("Evse", evse_to_ocpi(evse), V230))
    v230.Connector.model_validate(_out("Connector", connector_to_ocpi(evse.connectors.first()), V230))


# --- (c) round trips ------------------------------------------------------------------------------------------


def test_location_211_round_trip_keeps_what_both_carry() -> None:
    back = to_wire("Location", from_wire("Location", LOCATION_211, V211, CTX), V211)

    expected = copy.deepcopy(LOCATION_211)
    expected["opening_times"]["twentyfourseven"] = False  # 2.2.1 always says it
    expected["evses"][0]["evse_id"] = "FI*EXC*E0001"  # 2.2.1 checks the "*" separators
    assert back == expected


def test_minimal_location_211_round_trip() -> None:
    back = to_wire("Location", from_wire("Location", LOCATION_211_MIN, V211, CTX), V211)

    # OTHER has no 2.2.1 value: it returns as UNKNOWN; time_zone was filled on the way in.
    assert back == {**LOCATION_211_MIN, "type": "UNKNOWN", "time_zone": "Europe/Helsinki"}


@pytest.mark.parametrize(
    ("kind", "data"),
    [("Evse", EVSE_211), ("Evse", EVSE_211_MIN), ("Connector", CONNECTOR_211), ("Connector", CONNECTOR_211_MIN)],
)
def test_evse_and_connector_211_round_trip(kind: str, data: dict[str, Any]) -> None:
    back = to_wire(kind, from_wire(kind, data, V211, CTX), V211)

    expected = {**data, "evse_id": "FI*EXC*E0001"} if data.get("evse_id") else data
    assert back == expected


def test_location_230_round_trip_loses_only_what_221_cannot_hold() -> None:
    back = to_wire("Location", from_wire("Location", LOCATION_230, V230, CTX), V230)

    expected = dict(LOCATION_230)
    evse = dict(EVSE_230)
    evse["parking_restrictions"] = ["EV_ONLY"]
    evse["connectors"] = [CONNECTOR_230, {**CONNECTOR_230_MIN, "standard": "TESLA_S"}]
    expected["evses"] = [evse, {**EVSE_230_MIN, "connectors": [{**CONNECTOR_230_MIN, "standard": "TESLA_S"}]}]
    assert back == expected


def test_minimal_location_230_round_trip_is_identity() -> None:
    assert to_wire("Location", from_wire("Location", LOCATION_230_MIN, V230, CTX), V230) == LOCATION_230_MIN


@pytest.mark.django_db
def test_our_location_221_round_trip_through_211_and_230() -> None:
    location = LocationFactory(parking_type="ON_STREET", facilities=["CAFE"])
    ConnectorFactory(evse=EvseFactory(location=location, capabilities=["RFID_READER"]))
    served = location_to_ocpi(location)
    ctx = WireContext(country_code=location.country_code, party_id=location.party_id)

    assert from_wire("Location", to_wire("Location", served, V230), V230, ctx) == served
    back = from_wire("Location", to_wire("Location", served, V211), V211, ctx)
    # 2.2.1 -> 2.1.1 -> 2.2.1: coordinates carry six decimals in 2.1.1 (the factory's already have six).
    assert back == served


# --- (d) PATCH fragments --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fragment", "expected", "serializer_class"),
    [
        ("Evse", {"status": "CHARGING", "last_updated": T}, {"status": "CHARGING", "last_updated": T}, EvseSerializer),
        (
            "Connector",
            {"tariff_id": "15", "last_updated": T},
            {"tariff_ids": ["15"], "last_updated": T},
            ConnectorSerializer,
        ),
        (
            "Connector",
            {"voltage": 400, "amperage": 16, "last_updated": T},
            {"max_voltage": 400, "max_amperage": 16, "last_updated": T},
            ConnectorSerializer,
        ),
        (
            "Location",
            {"name": "Interparking Zuid", "last_updated": T},
            {"name": "Interparking Zuid", "last_updated": T},
            LocationSerializer,
        ),
        (
            "Location",
            {"type": "UNDERGROUND_GARAGE", "last_updated": T},
            {"parking_type": "UNDERGROUND_GARAGE", "last_updated": T},
            LocationSerializer,
        ),
        ("Location", {"type": "UNKNOWN", "last_updated": T}, {"parking_type": None, "last_updated": T}, None),
        ("Location", {"status": "REMOVED"}, {"status": "REMOVED"}, None),  # no last_updated in 2.1.1: none added
    ],
)
def test_patch_from_211_converts_only_the_fields_present(
    kind: str, fragment: dict[str, Any], expected: dict[str, Any], serializer_class: type | None
) -> None:
    data = _into(kind, fragment, V211, PATCH)

    assert data == expected
    if serializer_class is not None:
        _valid(serializer_class, data, partial=True)


@pytest.mark.parametrize(
    ("kind", "fragment", "expected"),
    [
        ("Evse", {"status": "AVAILABLE", "last_updated": T}, {"status": "AVAILABLE", "last_updated": T}),
        (
            "Evse",
            {"accepted_service_providers": ["X"], "parking_restrictions": ["TAXIS"], "last_updated": T},
            {"accepted_service_providers": ["X"], "parking_restrictions": [], "last_updated": T},
        ),
        (
            "Connector",
            {"capabilities": ["ISO_15118_20_PLUG_AND_CHARGE", "FUTURE_CAPABILITY"], "last_updated": T},
            {"capabilities": ["ISO_15118_20_PLUG_AND_CHARGE"], "last_updated": T},
        ),
        ("Location", {"parking_type": "ON_ROOFTOP", "last_updated": T}, {"parking_type": None, "last_updated": T}),
        (
            "Location",
            {"help_phone": "+31201234567", "last_updated": T},
            {"help_phone": "+31201234567", "last_updated": T},
        ),
    ],
)
def test_patch_from_230_converts_only_the_fields_present(
    kind: str, fragment: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert _into(kind, fragment, V230, PATCH) == expected


@pytest.mark.parametrize(
    ("kind", "fragment", "expected"),
    [
        ("Location", {"name": "New name", "last_updated": T}, {"name": "New name", "last_updated": T}),
        ("Location", {"parking_type": "ON_DRIVEWAY", "last_updated": T}, {"type": "OTHER", "last_updated": T}),
        ("Location", {"state": "Uusimaa", "last_updated": T}, {"last_updated": T}),
        ("Evse", {"status": "BLOCKED", "last_updated": T}, {"status": "BLOCKED", "last_updated": T}),
        (
            "Connector",
            {"tariff_ids": ["A", "B"], "max_electric_power": 11000, "last_updated": T},
            {"tariff_id": "A", "last_updated": T},
        ),
    ],
)
def test_patch_out_211_converts_only_the_fields_present(
    kind: str, fragment: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert _out(kind, fragment, V211, PATCH) == expected
    assert _out(kind, fragment, V230, PATCH) == fragment
