"""Locations on the wire: OCPI 2.1.1 and 2.3.0 Location, EVSE and Connector <-> the internal 2.2.1 shape.

`out` converters take what locations/api/serializers.py builds (2.2.1) and return the partner version's object;
`into` converters take what a partner sent and return a 2.2.1 object for LocationSerializer, EvseSerializer or
ConnectorSerializer. Both are pure (the argument is never changed) and convert nested EVSEs and Connectors.
With `ctx.partial` (a PATCH body) only the fields present are converted and none is added.

OCPI 2.1.1 (mod_locations.md 3-4; differences from the 2.3.0 changelog, "Changes between OCPI 2.1.1 and 2.2"):

2.2.1                            | 2.1.1                              | rule
-------------------------------- | ---------------------------------- | -------------------------------------------
country_code, party_id           | -                                  | into: from ctx (Receiver URL / the party)
publish, publish_allowed_to      | -                                  | into: publish=true (no unpublished in 2.1.1)
state                            | -                                  | out: dropped
parking_type (optional)          | type: LocationType (required)      | out: ALONG_MOTORWAY/ON_DRIVEWAY -> OTHER,
                                 |                                    | absent -> UNKNOWN; into: OTHER/UNKNOWN ->
                                 |                                    | left out (null on PATCH: cleared)
postal_code (optional)           | postal_code (required)             | out: "" when absent; into: "" -> absent
address string(255)              | address string(45)                 | out: cut to 45 characters
time_zone (required)             | time_zone (optional)               | into: from the coordinates (_time_zone_at)
coordinates 5-7 decimals         | exactly 6 decimals                 | out: 6; into: 6 when outside 5-7
Hours.twentyfourseven (required) | regular_hours or twentyfourseven   | into: twentyfourseven = no regular_hours
EnvironmentalImpact.category     | EnvironmentalImpact.source         | renamed both ways
Facility, Capability             | fewer values                       | out: values 2.1.1 lacks dropped
Connector max_voltage/amperage   | voltage/amperage                   | renamed both ways
Connector tariff_ids (*)         | tariff_id (?)                      | out: the first; into: [tariff_id]
Connector max_electric_power     | -                                  | out: dropped
PowerType AC_2_PHASE(_SPLIT)     | -                                  | out: AC_1_PHASE (POWER_TYPE_TO_211)
ConnectorType NEMA, GB/T, ...    | -                                  | out: nested connector dropped (see below)
evse_id "NL*EXA*E000001"         | the 2.1.1 examples use "-"         | into: "BE-BEC-E041503001" -> "BE*BEC*E041503001"

OCPI 2.3.0 (mod_locations.asciidoc; changelog "Changes between 2.2.1-d2 and 2.3.0"): the internal object carries
the fields 2.3.0 added (NEW_IN_230: Location parking_places/help_phone, EVSE parking/accepted_service_providers,
Connector capabilities; our models store them), so `out` copies it and `into` keeps them. `into` maps the values
of the OpenEnums 2.2.1 does not know: ConnectorType SAE_J3400 -> TESLA_S (mechanically compatible, the 2.3.0
ConnectorType table says so); in lists (capabilities, facilities, parking_restrictions, a Parking's vehicle_types,
a Connector's capabilities) unknown values are dropped (a Parking left with no vehicle type is dropped with the
EVSE links to it); an unknown ParkingType is left out (the field is optional); an unknown ImageCategory becomes
OTHER; an EnvironmentalImpact with an unknown category is dropped.

OCPI 2.2.1 itself (and 2.1.1): `out` drops the NEW_IN_230 fields (location_to_221: 2.2.1 partners never see
them, the 2.2.1 objects stay closed); `into` is the identity.

A connector whose standard the other side lacks (2.1.1: NEMA, GB/T, ChaoJi, DOMESTIC_M-O, pantographs; 2.2.1:
MCS or an unknown 2.3.0 value) cannot be carried. Inside an EVSE it is dropped, and an EVSE left without
connectors is dropped from its Location (an EVSE needs at least one). A Connector, or an EVSE with no carriable
connector, converted on its own keeps the value: the partner's (or our) validation refuses it. `carriable`
tells the caller beforehand.
"""

from __future__ import annotations

import math
import re
import zoneinfo
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.wire import WireContext

from .constants import Capability, ConnectorType, Facility, ImageCategory, ParkingRestriction, ParkingType
from .models import ConnectorCapability, VehicleType

Data = dict[str, Any]

# --- 2.1.1 enum values (mod_locations.md 4.2, 4.4, 4.11, 4.16, 4.18) ---------------------------------------

CAPABILITIES_211 = frozenset(
    {
        "CHARGING_PROFILE_CAPABLE",
        "CREDIT_CARD_PAYABLE",
        "REMOTE_START_STOP_CAPABLE",
        "RESERVABLE",
        "RFID_READER",
        "UNLOCK_CAPABLE",
    }
)
FACILITIES_211 = frozenset(Facility.values) - {"BIKE_SHARING", "TRAM_STOP", "METRO_STATION", "PARKING_LOT"}
CONNECTOR_TYPES_211 = frozenset(
    {
        "CHADEMO",
        *(f"DOMESTIC_{letter}" for letter in "ABCDEFGHIJKL"),
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
    }
)
# 2.2.1 added the two-phase systems (changelog 2.2 -> 2.2.1). Both feed the car from one line-to-line or
# split-phase circuit, which 2.1.1 can only call single phase; voltage/amperage stay as they are.
POWER_TYPE_TO_211 = {"AC_2_PHASE": "AC_1_PHASE", "AC_2_PHASE_SPLIT": "AC_1_PHASE"}
# LocationType (2.1.1 4.16) was renamed ParkingType in 2.2 and lost OTHER/UNKNOWN (the field became optional);
# ALONG_MOTORWAY and ON_DRIVEWAY are new. UNKNOWN is 2.1.1's default ("not known by the operator").
PARKING_TYPE_TO_211 = {"ALONG_MOTORWAY": "OTHER", "ON_DRIVEWAY": "OTHER"}
LOCATION_TYPE_TO_221: dict[str, str | None] = {"OTHER": None, "UNKNOWN": None}
LOCATION_TYPE_UNKNOWN = "UNKNOWN"
ADDRESS_MAX_211 = 45

# --- 2.3.0 (mod_locations.asciidoc): fields 2.2.1 cannot hold, OpenEnum values it does not know -------------

NEW_IN_230 = {
    "Location": ("parking_places", "help_phone"),
    "Evse": ("parking", "accepted_service_providers"),
    "Connector": ("capabilities",),
}
CONNECTOR_TYPE_TO_221 = {"SAE_J3400": "TESLA_S"}
CAPABILITIES_221 = frozenset(Capability.values)
FACILITIES_221 = frozenset(Facility.values)
PARKING_RESTRICTIONS_221 = frozenset(ParkingRestriction.values)
PARKING_TYPES_221 = frozenset(ParkingType.values)
IMAGE_CATEGORIES_221 = frozenset(ImageCategory.values)
CONNECTOR_TYPES_221 = frozenset(ConnectorType.values)
CONNECTOR_CAPABILITIES_230 = frozenset(ConnectorCapability.values)
VEHICLE_TYPES_230 = frozenset(VehicleType.values)
IMPACT_CATEGORIES_221 = frozenset({"NUCLEAR_WASTE", "CARBON_DIOXIDE"})

# eMI3 EVSE ID with "-" separators as in the 2.1.1 examples ("BE-BEC-E041503001").
_DASHED_EVSE_ID = re.compile(r"^[A-Za-z]{2}-[A-Za-z0-9]{3}-E[A-Za-z0-9-]+$")
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]*)?$")


def carriable(kind: str, data: Data, version: str) -> bool:
    """Whether `out` can carry this 2.2.1 Connector/EVSE/Location (at least one connector standard known to the
    version). False for a lone connector with a standard the version lacks: send nothing rather than a refusal."""
    if version != wire.V211:
        return True
    if kind == "Connector":
        return data.get("standard") in CONNECTOR_TYPES_211
    if kind == "Evse":
        return any(c.get("standard") in CONNECTOR_TYPES_211 for c in data.get("connectors") or [])
    return True


# --- Small helpers -------------------------------------------------------------------------------------------


def _only(values: Any, allowed: frozenset[str]) -> Any:
    """A list enum field without the values the other side lacks (order kept); not a list: unchanged."""
    if not isinstance(values, list):
        return values
    return [value for value in values if value in allowed]


def _decimals(value: Any, places: int) -> Any:
    """A coordinate string with exactly `places` decimals; anything that is not a decimal string: unchanged."""
    if not isinstance(value, str) or not _DECIMAL.match(value):
        return value
    try:
        return str(Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return value


def _point_to_211(point: Any) -> Any:
    """GeoLocation/AdditionalGeoLocation: 2.1.1 4.12 wants exactly 6 decimals (2.2.1 allows 5 to 7)."""
    if not isinstance(point, dict):
        return point
    return {
        **point,
        **{key: _decimals(point[key], 6) for key in ("latitude", "longitude") if key in point},
    }


def _point_from_211(point: Any) -> Any:
    """2.1.1 asks for 6 decimals but partners send fewer or more: bring those outside 5-7 to 6 (2.2.1 5.x)."""
    if not isinstance(point, dict):
        return point
    fixed = dict(point)
    for key in ("latitude", "longitude"):
        value = point.get(key)
        if isinstance(value, str) and _DECIMAL.match(value):
            places = len(value.partition(".")[2])
            if not 5 <= places <= 7:
                fixed[key] = _decimals(value, 6)
    return fixed


def _points(points: Any, convert: Callable[[Any], Any]) -> Any:
    return [convert(point) for point in points] if isinstance(points, list) else points


def _energy_mix(mix: Any, old: str, new: str, categories: frozenset[str] | None = None) -> Any:
    """EnvironmentalImpact: 2.1.1 4.8 calls the category `source`, 2.2 renamed it `category` (changelog).
    With `categories`, impacts with a category outside it are dropped (2.3.0 OpenEnum into 2.2.1)."""
    if not isinstance(mix, dict) or not isinstance(mix.get("environ_impact"), list):
        return mix
    impacts = []
    for impact in mix["environ_impact"]:
        if isinstance(impact, dict):
            impact = {(new if key == old else key): value for key, value in impact.items()}
            if categories is not None and impact.get(new) not in categories:
                continue
        impacts.append(impact)
    return {**mix, "environ_impact": impacts}


def _image_from_230(image: Any) -> Any:
    """ImageCategory is an OpenEnum in 2.3.0: a category 2.2.1 lacks becomes OTHER ("Other")."""
    if isinstance(image, dict) and "category" in image and image["category"] not in IMAGE_CATEGORIES_221:
        return {**image, "category": "OTHER"}
    return image


def _images_from_230(images: Any) -> Any:
    return [_image_from_230(image) for image in images] if isinstance(images, list) else images


def _business_from_230(details: Any) -> Any:
    if isinstance(details, dict) and "logo" in details:
        return {**details, "logo": _image_from_230(details["logo"])}
    return details


def _hours_from_211(hours: Any) -> Any:
    """2.1.1 4.13 has either regular_hours or twentyfourseven; 2.2.1 always wants twentyfourseven."""
    if isinstance(hours, dict) and "twentyfourseven" not in hours:
        return {**hours, "twentyfourseven": not hours.get("regular_hours")}
    return hours


@cache
def _zone_table() -> tuple[tuple[str, float, float], ...]:
    """IANA zone1970.tab: (zone, latitude, longitude) of each zone's principal location; empty if not found."""
    for directory in zoneinfo.TZPATH:
        path = Path(directory) / "zone1970.tab"
        if path.is_file():
            rows = []
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                coordinates, zone = line.split("\t")[1:3]
                match = re.match(r"^([+-]\d+)([+-]\d+)$", coordinates)
                if match:
                    rows.append((zone, _iso6709(match.group(1), 2), _iso6709(match.group(2), 3)))
            return tuple(rows)
    return ()


def _iso6709(value: str, degree_digits: int) -> float:
    """ "+5222" / "+004454" (ISO 6709 DDMM[SS]) -> decimal degrees."""
    sign = -1.0 if value[0] == "-" else 1.0
    digits = value[1:]
    degrees, rest = float(digits[:degree_digits]), digits[degree_digits:]
    minutes = float(rest[:2] or 0)
    seconds = float(rest[2:4] or 0)
    return sign * (degrees + minutes / 60 + seconds / 3600)


def _time_zone_at(coordinates: Any) -> str:
    """The IANA zone whose principal location is nearest; "UTC" when the table or coordinates are missing.

    2.1.1 3.1 makes time_zone optional, 2.2.1 requires it (opening hours and tariff restrictions are local
    time). The nearest principal location is right far from borders; a partner that knows better sends it.
    """
    try:
        lat = math.radians(float(coordinates["latitude"]))
        lon = math.radians(float(coordinates["longitude"]))
    except (TypeError, KeyError, ValueError):
        return "UTC"

    def distance(row: tuple[str, float, float]) -> float:
        zlat, zlon = math.radians(row[1]), math.radians(row[2])
        return math.sin((zlat - lat) / 2) ** 2 + math.cos(lat) * math.cos(zlat) * math.sin((zlon - lon) / 2) ** 2

    table = _zone_table()
    return min(table, key=distance)[0] if table else "UTC"


# --- Connector (2.1.1 3.3, 2.3.0 "Connector Object") --------------------------------------------------------


def connector_to_211(data: Data, ctx: WireContext) -> Data:
    """max_voltage/max_amperage -> voltage/amperage; tariff_ids -> tariff_id (the first: 2.1.1 has one);
    max_electric_power dropped; AC_2_PHASE(_SPLIT) -> AC_1_PHASE."""
    out: Data = {}
    for key, value in data.items():
        if key == "max_voltage":
            out["voltage"] = value
        elif key == "max_amperage":
            out["amperage"] = value
        elif key == "tariff_ids":
            if isinstance(value, list) and value:
                out["tariff_id"] = value[0]
        elif key == "power_type":
            out["power_type"] = POWER_TYPE_TO_211.get(value, value)
        elif key != "max_electric_power" and key not in NEW_IN_230["Connector"]:
            out[key] = value
    return out


def connector_from_211(data: Data, ctx: WireContext) -> Data:
    """voltage/amperage -> max_voltage/max_amperage; tariff_id -> tariff_ids (a list of it; null stays null)."""
    out: Data = {}
    for key, value in data.items():
        if key == "voltage":
            out["max_voltage"] = value
        elif key == "amperage":
            out["max_amperage"] = value
        elif key == "tariff_id":
            out["tariff_ids"] = [value] if value is not None else None
        else:
            out[key] = value
    return out


def connector_to_221(data: Data, ctx: WireContext) -> Data:
    """The internal Connector without 2.3.0's `capabilities` (2.2.1 "Connector Object" has none)."""
    return wire.without(data, *NEW_IN_230["Connector"])


def connector_to_230(data: Data, ctx: WireContext) -> Data:
    """The internal Connector is a 2.3.0 Connector (with its stored `capabilities`)."""
    return dict(data)


def connector_from_230(data: Data, ctx: WireContext) -> Data:
    """`capabilities` kept, values 2.3.0's ConnectorCapability lacks dropped (OpenEnum); standard SAE_J3400 ->
    TESLA_S; other unknown standards kept."""
    out = dict(data)
    if "capabilities" in out:
        out["capabilities"] = _only(out["capabilities"], CONNECTOR_CAPABILITIES_230)
    if "standard" in out:
        out["standard"] = CONNECTOR_TYPE_TO_221.get(out["standard"], out["standard"])
    return out


# --- EVSE (2.1.1 3.2, 2.3.0 "EVSE Object") ------------------------------------------------------------------


def _connectors(connectors: Any, convert: Callable[[Data, WireContext], Data], known: frozenset[str], ctx: WireContext):
    """Converted connectors without those whose standard the target lacks, unless none would be left."""
    if not isinstance(connectors, list):
        return connectors
    converted = [convert(c, ctx) if isinstance(c, dict) else c for c in connectors]
    kept = [c for c in converted if isinstance(c, dict) and c.get("standard") in known]
    return kept or converted


def _evse_has_connectors(evse: Any, known: frozenset[str]) -> bool:
    connectors = evse.get("connectors") if isinstance(evse, dict) else None
    if not isinstance(connectors, list) or not connectors:
        return True  # nothing to judge: leave it to validation
    return any(isinstance(c, dict) and c.get("standard") in known for c in connectors)


def evse_to_211(data: Data, ctx: WireContext) -> Data:
    """Capabilities 2.1.1 lacks dropped; connectors converted (those 2.1.1 cannot carry dropped); 6 decimals;
    the 2.3.0 fields dropped."""
    out: Data = {}
    for key, value in data.items():
        if key in NEW_IN_230["Evse"]:
            continue
        if key == "capabilities":
            out[key] = _only(value, CAPABILITIES_211)
        elif key == "connectors":
            out[key] = _connectors(value, connector_to_211, CONNECTOR_TYPES_211, ctx)
        elif key == "coordinates":
            out[key] = _point_to_211(value)
        else:
            out[key] = value
    return out


def evse_from_211(data: Data, ctx: WireContext) -> Data:
    """Connectors converted; a dashed eMI3 evse_id gets the "*" separators 2.2.1 checks; coordinates fixed."""
    out: Data = {}
    for key, value in data.items():
        if key == "connectors":
            out[key] = _connectors(value, connector_from_211, CONNECTOR_TYPES_221, ctx)
        elif key == "evse_id" and isinstance(value, str) and _DASHED_EVSE_ID.match(value):
            out[key] = value.replace("-", "*")
        elif key == "capabilities":
            out[key] = _only(value, CAPABILITIES_221)
        elif key == "coordinates":
            out[key] = _point_from_211(value)
        else:
            out[key] = value
    return out


def evse_to_221(data: Data, ctx: WireContext) -> Data:
    """The internal EVSE without 2.3.0's parking/accepted_service_providers, its connectors likewise."""
    out = wire.without(data, *NEW_IN_230["Evse"])
    if isinstance(out.get("connectors"), list):
        out["connectors"] = [connector_to_221(c, ctx) if isinstance(c, dict) else c for c in out["connectors"]]
    return out


def evse_to_230(data: Data, ctx: WireContext) -> Data:
    """The internal EVSE is a 2.3.0 EVSE (with its stored parking and accepted_service_providers)."""
    out = dict(data)
    if isinstance(out.get("connectors"), list):
        out["connectors"] = [connector_to_230(c, ctx) if isinstance(c, dict) else c for c in out["connectors"]]
    return out


def evse_from_230(data: Data, ctx: WireContext) -> Data:
    """parking/accepted_service_providers kept; OpenEnum values 2.2.1 lacks dropped (capabilities,
    parking_restrictions) or mapped (image category -> OTHER); connectors converted, uncarriable ones dropped."""
    out: Data = {}
    for key, value in data.items():
        if key == "capabilities":
            out[key] = _only(value, CAPABILITIES_221)
        elif key == "parking_restrictions":
            out[key] = _only(value, PARKING_RESTRICTIONS_221)
        elif key == "images":
            out[key] = _images_from_230(value)
        elif key == "connectors":
            out[key] = _connectors(value, connector_from_230, CONNECTOR_TYPES_221, ctx)
        else:
            out[key] = value
    return out


# --- Location (2.1.1 3.1, 2.3.0 "Location Object") ----------------------------------------------------------


def _evses(evses: Any, convert: Callable[[Data, WireContext], Data], known: frozenset[str], ctx: WireContext):
    """Converted EVSEs without those left with no connector the target can carry."""
    if not isinstance(evses, list):
        return evses
    converted = [convert(evse, ctx) if isinstance(evse, dict) else evse for evse in evses]
    return [evse for evse in converted if _evse_has_connectors(evse, known)]


def location_to_211(data: Data, ctx: WireContext) -> Data:
    """2.2.1 -> 2.1.1 Location: see the module table. country_code, party_id, publish, publish_allowed_to and
    state are dropped: a Location with publish=false should not be sent to a 2.1.1 partner at all (the caller
    decides; 2.1.1 cannot say "do not show")."""
    out: Data = {}
    for key, value in data.items():
        if key in ("country_code", "party_id", "publish", "publish_allowed_to", "state", *NEW_IN_230["Location"]):
            continue
        if key == "parking_type":
            out["type"] = PARKING_TYPE_TO_211.get(value, value) if value else LOCATION_TYPE_UNKNOWN
        elif key == "address" and isinstance(value, str):
            out[key] = value[:ADDRESS_MAX_211]
        elif key == "facilities":
            out[key] = _only(value, FACILITIES_211)
        elif key == "coordinates":
            out[key] = _point_to_211(value)
        elif key == "related_locations":
            out[key] = _points(value, _point_to_211)
        elif key == "evses":
            out[key] = _evses(value, evse_to_211, CONNECTOR_TYPES_211, ctx)
        elif key == "energy_mix":
            out[key] = _energy_mix(value, "category", "source")
        else:
            out[key] = value
    if not ctx.partial:
        out.setdefault("type", LOCATION_TYPE_UNKNOWN)  # required in 2.1.1; UNKNOWN is its default (4.16)
        out.setdefault("postal_code", "")  # required in 2.1.1; 2.2.1 omits it only where there is none
    return out


def location_from_211(data: Data, ctx: WireContext) -> Data:
    """2.1.1 -> 2.2.1 Location: see the module table. Filled when absent (not on PATCH): country_code/party_id
    from ctx, publish=true (every 2.1.1 Location is public: 2.1.1 has no publish flag), time_zone from the
    coordinates (_time_zone_at)."""
    out: Data = {}
    for key, value in data.items():
        if key == "type":
            out["parking_type"] = LOCATION_TYPE_TO_221.get(value, value) if isinstance(value, str) else value
        elif key == "postal_code" and value == "":
            continue
        elif key == "coordinates":
            out[key] = _point_from_211(value)
        elif key == "related_locations":
            out[key] = _points(value, _point_from_211)
        elif key == "evses":
            out[key] = _evses(value, evse_from_211, CONNECTOR_TYPES_221, ctx)
        elif key == "opening_times":
            out[key] = _hours_from_211(value)
        elif key == "energy_mix":
            out[key] = _energy_mix(value, "source", "category")
        elif key == "facilities":
            out[key] = _only(value, FACILITIES_221)
        else:
            out[key] = value
    if ctx.partial:
        return out  # a PATCH to OTHER/UNKNOWN sends parking_type null: cleared
    if out.get("parking_type", "") is None:
        del out["parking_type"]
    if ctx.country_code is not None:
        out.setdefault("country_code", ctx.country_code)
    if ctx.party_id is not None:
        out.setdefault("party_id", ctx.party_id)
    out.setdefault("publish", True)
    if not out.get("time_zone"):
        out["time_zone"] = _time_zone_at(out.get("coordinates"))
    return out


def location_to_221(data: Data, ctx: WireContext) -> Data:
    """The internal Location as 2.2.1: without parking_places/help_phone, EVSEs and connectors likewise."""
    out = wire.without(data, *NEW_IN_230["Location"])
    if isinstance(out.get("evses"), list):
        out["evses"] = [evse_to_221(e, ctx) if isinstance(e, dict) else e for e in out["evses"]]
    return out


def _identity(data: Data, ctx: WireContext) -> Data:
    """2.2.1 into 2.2.1: nothing to convert."""
    return data


def location_to_230(data: Data, ctx: WireContext) -> Data:
    """The internal Location is a 2.3.0 Location (with its stored parking_places and help_phone)."""
    out = dict(data)
    if isinstance(out.get("evses"), list):
        out["evses"] = [evse_to_230(e, ctx) if isinstance(e, dict) else e for e in out["evses"]]
    return out


def _parking_places_from_230(places: Any) -> tuple[Any, set[str]]:
    """Parking.vehicle_types is an OpenEnum: values 2.3.0 lacks dropped; a place left with none is dropped (its
    upper-case id returned, for the EVSE links to it)."""
    if not isinstance(places, list):
        return places, set()
    kept, dropped = [], set()
    for place in places:
        if isinstance(place, dict) and isinstance(place.get("vehicle_types"), list):
            types = _only(place["vehicle_types"], VEHICLE_TYPES_230)
            if not types and place["vehicle_types"]:
                dropped.add(str(place.get("id", "")).upper())
                continue
            place = {**place, "vehicle_types": types}
        kept.append(place)
    return kept, dropped


def _parking_id(link: Any) -> str | None:
    return str(link.get("parking_id", "")).upper() if isinstance(link, dict) else None


def _unlink_parking(evses: Any, dropped: set[str]) -> Any:
    """EVSEParking links to dropped parking places removed (2.3.0: parking_id refers to the Location's places)."""
    if not dropped or not isinstance(evses, list):
        return evses
    out = []
    for evse in evses:
        if isinstance(evse, dict) and isinstance(evse.get("parking"), list):
            evse = {**evse, "parking": [p for p in evse["parking"] if _parking_id(p) not in dropped]}
        out.append(evse)
    return out


def location_from_230(data: Data, ctx: WireContext) -> Data:
    """parking_places/help_phone kept (parking places of only unknown vehicle types dropped); OpenEnum values
    2.2.1 lacks: unknown parking_type left out, unknown facilities dropped, unknown image categories OTHER,
    impacts of unknown category dropped; EVSEs converted, those with no connector 2.2.1 can carry dropped."""
    out: Data = {}
    dropped: set[str] = set()
    for key, value in data.items():
        if key == "parking_places":
            out[key], dropped = _parking_places_from_230(value)
            continue
        if key == "parking_type" and value is not None and value not in PARKING_TYPES_221:
            if ctx.partial:
                out[key] = None  # PATCH to a type 2.2.1 lacks: cleared, like a 2.1.1 OTHER
            continue
        if key == "facilities":
            out[key] = _only(value, FACILITIES_221)
        elif key == "images":
            out[key] = _images_from_230(value)
        elif key in ("operator", "suboperator", "owner"):
            out[key] = _business_from_230(value)
        elif key == "energy_mix":
            out[key] = _energy_mix(value, "category", "category", IMPACT_CATEGORIES_221)
        elif key == "evses":
            out[key] = _evses(value, evse_from_230, CONNECTOR_TYPES_221, ctx)
        else:
            out[key] = value
    if "evses" in out:
        out["evses"] = _unlink_parking(out["evses"], dropped)
    return out


def register_wire() -> None:
    """Called from LocationsConfig.ready(): the Locations converters for 2.1.1, 2.2.1 (dropping the 2.3.0 fields)
    and 2.3.0 partners."""
    wire.register("Location", wire.V221, out=location_to_221, into=_identity)
    wire.register("Evse", wire.V221, out=evse_to_221, into=_identity)
    wire.register("Connector", wire.V221, out=connector_to_221, into=_identity)
    wire.register("Location", wire.V211, out=location_to_211, into=location_from_211)
    wire.register("Evse", wire.V211, out=evse_to_211, into=evse_from_211)
    wire.register("Connector", wire.V211, out=connector_to_211, into=connector_from_211)
    wire.register("Location", wire.V230, out=location_to_230, into=location_from_230)
    wire.register("Evse", wire.V230, out=evse_to_230, into=evse_from_230)
    wire.register("Connector", wire.V230, out=connector_to_230, into=connector_from_230)
