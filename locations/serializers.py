"""What of the Locations serializers the selectors and other apps' serializers use, outside the api edge.

The column lists the Sender's fast builders read (locations/api/serializers.py: location_rows_to_ocpi) and the
selectors query as named rows, and the GeoLocation value type (also part of a CDR's CdrLocation). Re-exported by
locations/api/serializers.py under the names the views, OpenAPI and tests use.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from ocpi_platform.ocpi.envelope import format_datetime
from ocpi_platform.ocpi.fields import OcpiStringField

from .constants import LATITUDE_RE, LONGITUDE_RE

# Model columns the builders read (values_list(..., named=True) of the Sender list). The 2.3.0 columns
# (parking_places, help_phone, parking, accepted_service_providers, connector capabilities) ride along in the same
# queries: a page still costs the same number of queries.
LOCATION_COLUMNS = (
    "id", "country_code", "party_id", "ocpi_id", "publish", "publish_allowed_to", "name", "address", "city",
    "postal_code", "state", "country", "latitude", "longitude", "related_locations", "parking_type", "directions",
    "operator", "suboperator", "owner", "facilities", "time_zone", "opening_times", "charging_when_closed", "images",
    "energy_mix", "parking_places", "help_phone", "last_updated",
)  # fmt: skip
EVSE_COLUMNS = (
    "id", "location_id", "uid", "evse_id", "status", "status_schedule", "capabilities", "floor_level", "latitude",
    "longitude", "physical_reference", "directions", "parking_restrictions", "images", "parking",
    "accepted_service_providers", "last_updated",
)  # fmt: skip
CONNECTOR_COLUMNS = (
    "evse_id", "ocpi_id", "standard", "format", "power_type", "max_voltage", "max_amperage", "max_electric_power",
    "tariff_ids", "terms_and_conditions", "capabilities", "last_updated",
)  # fmt: skip


# --- Value types (locations.md section 5, transport.md 11) ----------------------------------------


def _check_coordinate(value: str, pattern: Any, bound: int, what: str) -> str:
    if not pattern.match(value):
        raise serializers.ValidationError(f"{what} must match {pattern.pattern} (5 to 7 decimals)")
    if abs(Decimal(value)) > bound:
        raise serializers.ValidationError(f"{what} must lie between -{bound} and {bound}")
    return value


class GeoLocationSerializer(serializers.Serializer):
    latitude = OcpiStringField(max_length=10)
    longitude = OcpiStringField(max_length=11)

    def validate_latitude(self, value: str) -> str:
        return _check_coordinate(value, LATITUDE_RE, 90, "latitude")

    def validate_longitude(self, value: str) -> str:
        return _check_coordinate(value, LONGITUDE_RE, 180, "longitude")


# --- The Sender's hot path ------------------------------------------------------------------------
#
# Hand-written builders that produce exactly what the serializers of locations/api/serializers.py produce
# (tested). They read
# attributes only, so they work on model instances and on the named rows of the *_COLUMNS alike
# (above).


def ocpi_datetime(value: Any) -> str:
    """format_datetime(value), about three times faster for the common whole-second UTC value."""
    if value.microsecond or value.utcoffset():
        return format_datetime(value)
    return value.isoformat()[:19] + "Z"


def connector_to_ocpi(connector: Any) -> dict[str, Any]:
    """Same output as ConnectorSerializer(connector).data, without DRF's per-field machinery."""
    data: dict[str, Any] = {
        "id": connector.ocpi_id,
        "standard": connector.standard,
        "format": connector.format,
        "power_type": connector.power_type,
        "max_voltage": connector.max_voltage,
        "max_amperage": connector.max_amperage,
    }
    if connector.max_electric_power is not None:
        data["max_electric_power"] = connector.max_electric_power
    if connector.tariff_ids:
        data["tariff_ids"] = connector.tariff_ids
    if connector.terms_and_conditions:
        data["terms_and_conditions"] = connector.terms_and_conditions
    if connector.capabilities:
        data["capabilities"] = connector.capabilities
    data["last_updated"] = ocpi_datetime(connector.last_updated)
    return data


def _evse_dict(evse: Any, connectors: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {"uid": evse.uid}
    if evse.evse_id:
        data["evse_id"] = evse.evse_id
    data["status"] = evse.status
    if evse.status_schedule:
        data["status_schedule"] = evse.status_schedule
    if evse.capabilities:
        data["capabilities"] = evse.capabilities
    data["connectors"] = connectors
    if evse.floor_level:
        data["floor_level"] = evse.floor_level
    if evse.latitude:
        data["coordinates"] = {"latitude": evse.latitude, "longitude": evse.longitude}
    if evse.physical_reference:
        data["physical_reference"] = evse.physical_reference
    if evse.directions:
        data["directions"] = evse.directions
    if evse.parking_restrictions:
        data["parking_restrictions"] = evse.parking_restrictions
    if evse.parking:
        data["parking"] = evse.parking
    if evse.images:
        data["images"] = evse.images
    if evse.accepted_service_providers:
        data["accepted_service_providers"] = evse.accepted_service_providers
    data["last_updated"] = ocpi_datetime(evse.last_updated)
    return data


def _location_dict(location: Any, evses: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "country_code": location.country_code,
        "party_id": location.party_id,
        "id": location.ocpi_id,
        "publish": location.publish,
    }
    if location.publish_allowed_to:
        data["publish_allowed_to"] = location.publish_allowed_to
    if location.name:
        data["name"] = location.name
    data["address"] = location.address
    data["city"] = location.city
    if location.postal_code:
        data["postal_code"] = location.postal_code
    if location.state:
        data["state"] = location.state
    data["country"] = location.country
    data["coordinates"] = {"latitude": location.latitude, "longitude": location.longitude}
    if location.related_locations:
        data["related_locations"] = location.related_locations
    if location.parking_type:
        data["parking_type"] = location.parking_type
    data["evses"] = evses
    if location.parking_places:
        data["parking_places"] = location.parking_places
    if location.directions:
        data["directions"] = location.directions
    if location.operator:
        data["operator"] = location.operator
    if location.suboperator:
        data["suboperator"] = location.suboperator
    if location.owner:
        data["owner"] = location.owner
    if location.facilities:
        data["facilities"] = location.facilities
    data["time_zone"] = location.time_zone
    if location.opening_times:
        data["opening_times"] = location.opening_times
    if location.charging_when_closed is not None:
        data["charging_when_closed"] = location.charging_when_closed
    if location.images:
        data["images"] = location.images
    if location.energy_mix:
        data["energy_mix"] = location.energy_mix
    if location.help_phone:
        data["help_phone"] = location.help_phone
    data["last_updated"] = ocpi_datetime(location.last_updated)
    return data


def evse_to_ocpi(evse: Any) -> dict[str, Any]:
    """Same output as EvseSerializer(evse).data; uses the (prefetched) connectors."""
    return _evse_dict(evse, [connector_to_ocpi(c) for c in evse.connectors.all()])


def location_to_ocpi(location: Any) -> dict[str, Any]:
    """Same output as LocationSerializer(location).data; fast over prefetched evses/connectors."""
    return _location_dict(location, [evse_to_ocpi(e) for e in location.evses.all()])


def location_rows_to_ocpi(
    locations: Sequence[Any], evses: Iterable[Any], connectors: Iterable[Any]
) -> list[dict[str, Any]]:
    """A Sender page from named rows (LOCATION_/EVSE_/CONNECTOR_COLUMNS), EVSEs and connectors in page order.

    No model instances and no prefetch machinery: this is what makes the list as fast as plain SQL + orjson.
    """
    connectors_by_evse: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for connector in connectors:
        connectors_by_evse[connector.evse_id].append(connector_to_ocpi(connector))
    evses_by_location: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for evse in evses:
        evses_by_location[evse.location_id].append(_evse_dict(evse, connectors_by_evse.get(evse.id, [])))
    return [_location_dict(location, evses_by_location.get(location.id, [])) for location in locations]
