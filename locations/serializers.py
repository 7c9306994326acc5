"""What of the Locations serializers the selectors and other apps' serializers use, outside the api edge.

The column lists the Sender's fast builders read (locations/api/serializers.py: location_rows_to_ocpi) and the
selectors query as named rows, and the GeoLocation value type (also part of a CDR's CdrLocation). Re-exported by
locations/api/serializers.py under the names the views, OpenAPI and tests use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

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
