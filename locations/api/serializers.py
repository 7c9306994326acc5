"""Canonical OCPI 2.2.1 Locations serializers (locations.md sections 4 and 5).

One serializer per OCPI object, field names exactly as in the spec. They read model instances (GET, push)
and validate inbound data (eMSP Receiver, seed data). `validated_data` is keyed by *model field names*
(`id` -> `ocpi_id`, `coordinates` -> `latitude`/`longitude`) so the services can store it as is; nested
value types (opening hours, energy mix, images, ...) come out in their canonical JSON form, ready for the
JSON columns.

Output rule (also followed by the fast `location_to_ocpi`): optional fields that are null, "" or an empty
list/object are left out; `evses` and `connectors` are always present.

The internal shape also carries the fields OCPI 2.3.0 added (mod_locations.asciidoc): Location.parking_places and
help_phone, EVSE.parking and accepted_service_providers, Connector.capabilities. They are optional, validated like
2.3.0 says, and emitted only when set, so an object without them is exactly the 2.2.1 object; locations/wire.py
removes them for 2.2.1 and 2.1.1 partners and carries them to 2.3.0 partners.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from ocpi_platform.ocpi.fields import (
    CiStringField,  # shared strict fields
    EnumField,
    OcpiDateTimeField,
    OcpiNumberField,
    OcpiStringField,
    StrictBooleanField,
    StrictIntegerField,
)

from ..constants import (
    COUNTRY_ALPHA3_RE,
    EVSE_ID_RE,
    REGULAR_HOURS_TIME_RE,
    Capability,
    ConnectorFormat,
    ConnectorType,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    EVSEStatus,
    Facility,
    ImageCategory,
    ParkingRestriction,
    ParkingType,
    PowerType,
    TokenType,
)
from ..models import ConnectorCapability, EVSEPosition, ParkingDirection, VehicleType
from ..serializers import CONNECTOR_COLUMNS as CONNECTOR_COLUMNS  # re-exported: the selectors read them there
from ..serializers import EVSE_COLUMNS as EVSE_COLUMNS
from ..serializers import LOCATION_COLUMNS as LOCATION_COLUMNS
from ..serializers import GeoLocationSerializer  # also part of a CDR's CdrLocation (cdrs/serializers.py)

# Lists with cardinality "+" stay in the output even when empty (they are never empty when valid).
_ALWAYS = frozenset({"evses", "connectors"})


def prune(data: dict[str, Any], keep: frozenset[str] = _ALWAYS) -> dict[str, Any]:
    """Drop optional fields that carry no value (null, "" or [])."""
    return {k: v for k, v in data.items() if k in keep or not _empty(v)}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str | list | dict) and not value)


def _prune_deep(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _prune_deep(v) for k, v in value.items() if not _empty(v)}
    if isinstance(value, list):
        return [_prune_deep(v) for v in value]
    return value


# --- Strict scalar fields -------------------------------------------------------------------------


class OcpiUrlField(serializers.URLField):
    """OCPI URL: string(255) that is a valid URL."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def _optional(**kwargs: Any) -> dict[str, Any]:
    return {"required": False, "allow_null": True, **kwargs}


def _enum_list(enum: type) -> serializers.ListField:
    return serializers.ListField(child=EnumField(enum), **_optional())


class NestedJsonField(serializers.Field):
    """A nested OCPI value kept in a JSON column: validated by `serializer_class`, stored canonically.

    Reading returns the stored JSON unchanged (it was canonicalised when written).
    """

    def __init__(self, serializer_class: type[serializers.Serializer], *, many: bool = False, **kwargs: Any) -> None:
        self.serializer_class = serializer_class
        self.many = many
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if self.many and not isinstance(data, list):
            raise serializers.ValidationError("Expected a list of items.")
        if not self.many and not isinstance(data, dict):
            raise serializers.ValidationError("Expected an object.")
        serializer = self.serializer_class(data=data, many=self.many)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        return _prune_deep(serializer.to_representation(serializer.validated_data))

    def to_representation(self, value: Any) -> Any:
        return value


# --- Value types (locations.md section 5, transport.md 11) ----------------------------------------


class DisplayTextSerializer(serializers.Serializer):
    language = OcpiStringField(max_length=2)
    text = OcpiStringField(max_length=512)


class AdditionalGeoLocationSerializer(GeoLocationSerializer):
    name = DisplayTextSerializer(**_optional())


class ImageSerializer(serializers.Serializer):
    url = OcpiUrlField()
    thumbnail = OcpiUrlField(**_optional())
    category = EnumField(ImageCategory)
    type = CiStringField(max_length=4)
    width = StrictIntegerField(min_value=0, max_value=99999, **_optional())
    height = StrictIntegerField(min_value=0, max_value=99999, **_optional())


class BusinessDetailsSerializer(serializers.Serializer):
    name = OcpiStringField(max_length=100)
    website = OcpiUrlField(**_optional())
    logo = ImageSerializer(**_optional())


class RegularHoursSerializer(serializers.Serializer):
    weekday = StrictIntegerField(min_value=1, max_value=7)
    period_begin = OcpiStringField(max_length=5)
    period_end = OcpiStringField(max_length=5)

    def validate_period_begin(self, value: str) -> str:
        if not REGULAR_HOURS_TIME_RE.match(value):
            raise serializers.ValidationError("must be a local time HH:MM")
        return value

    validate_period_end = validate_period_begin

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["period_end"] <= attrs["period_begin"]:
            raise serializers.ValidationError({"period_end": "must be later than period_begin"})
        return attrs


class ExceptionalPeriodSerializer(serializers.Serializer):
    period_begin = OcpiDateTimeField()
    period_end = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["period_end"] <= attrs["period_begin"]:
            raise serializers.ValidationError({"period_end": "must be later than period_begin"})
        return attrs


class HoursSerializer(serializers.Serializer):
    twentyfourseven = StrictBooleanField()
    regular_hours = RegularHoursSerializer(many=True, **_optional())
    exceptional_openings = ExceptionalPeriodSerializer(many=True, **_optional())
    exceptional_closings = ExceptionalPeriodSerializer(many=True, **_optional())

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        regular = attrs.get("regular_hours") or []
        if attrs["twentyfourseven"] and regular:
            raise serializers.ValidationError({"regular_hours": "only allowed when twentyfourseven is false"})
        if not attrs["twentyfourseven"] and not regular:
            raise serializers.ValidationError({"regular_hours": "at least one entry when twentyfourseven is false"})
        return attrs


class EnergySourceSerializer(serializers.Serializer):
    source = EnumField(EnergySourceCategory)
    percentage = OcpiNumberField(min_value=Decimal(0), max_value=Decimal(100))


class EnvironmentalImpactSerializer(serializers.Serializer):
    category = EnumField(EnvironmentalImpactCategory)
    amount = OcpiNumberField(min_value=Decimal(0))


class EnergyMixSerializer(serializers.Serializer):
    is_green_energy = StrictBooleanField()
    energy_sources = EnergySourceSerializer(many=True, **_optional())
    environ_impact = EnvironmentalImpactSerializer(many=True, **_optional())
    supplier_name = OcpiStringField(max_length=64, **_optional())
    energy_product_name = OcpiStringField(max_length=64, **_optional())


class StatusScheduleSerializer(serializers.Serializer):
    period_begin = OcpiDateTimeField()
    period_end = OcpiDateTimeField(**_optional())
    status = EnumField(EVSEStatus)


class ParkingSerializer(serializers.Serializer):
    """OCPI 2.3.0 Parking object (mod_locations.asciidoc "Parking Object"); lengths in cm, weight in kg."""

    id = CiStringField(max_length=36)
    physical_reference = OcpiStringField(max_length=12, **_optional())
    vehicle_types = serializers.ListField(child=EnumField(VehicleType), allow_empty=False)
    max_vehicle_weight = OcpiNumberField(min_value=Decimal(0), **_optional())
    max_vehicle_height = OcpiNumberField(min_value=Decimal(0), **_optional())
    max_vehicle_length = OcpiNumberField(min_value=Decimal(0), **_optional())
    max_vehicle_width = OcpiNumberField(min_value=Decimal(0), **_optional())
    parking_space_length = OcpiNumberField(min_value=Decimal(0), **_optional())
    parking_space_width = OcpiNumberField(min_value=Decimal(0), **_optional())
    dangerous_goods_allowed = StrictBooleanField(**_optional())
    direction = EnumField(ParkingDirection, **_optional())
    drive_through = StrictBooleanField(**_optional())
    restricted_to_type = StrictBooleanField()
    reservation_required = StrictBooleanField()
    time_limit = OcpiNumberField(min_value=Decimal(0), **_optional())
    roofed = StrictBooleanField(**_optional())
    images = ImageSerializer(many=True, **_optional())
    lighting = StrictBooleanField(**_optional())
    refrigeration_outlet = StrictBooleanField(**_optional())
    standards = serializers.ListField(child=CiStringField(max_length=36), **_optional())
    apds_reference = CiStringField(max_length=255, **_optional())


class EVSEParkingSerializer(serializers.Serializer):
    """OCPI 2.3.0 EVSEParking class: a link to one of the Location's parking_places by its id."""

    parking_id = CiStringField(max_length=36)
    evse_position = EnumField(EVSEPosition, **_optional())


def check_parking_ids(value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """2.3.0 Parking.id: "MUST be unique among all Parking objects in the same Location object"."""
    ids = [str(item.get("id", "")).upper() for item in value or []]
    if len(ids) != len(set(ids)):
        raise serializers.ValidationError("parking place ids must be unique within the location")
    return value


class PublishTokenTypeSerializer(serializers.Serializer):
    uid = CiStringField(max_length=36, **_optional())
    type = EnumField(TokenType, **_optional())
    visual_number = OcpiStringField(max_length=64, **_optional())
    issuer = OcpiStringField(max_length=64, **_optional())
    group_id = CiStringField(max_length=36, **_optional())

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs.get("uid") or attrs.get("visual_number") or attrs.get("group_id")):
            raise serializers.ValidationError("at least one of uid, visual_number or group_id must be set")
        if attrs.get("uid") and not attrs.get("type"):
            raise serializers.ValidationError({"type": "required when uid is set"})
        if attrs.get("visual_number") and not attrs.get("issuer"):
            raise serializers.ValidationError({"issuer": "required when visual_number is set"})
        return attrs


class GeoLocationField(serializers.Field):
    """`coordinates` <-> the model's latitude/longitude columns (source '*': validated data gets both)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(source="*", **kwargs)

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None and self.allow_null:
            return True, {"latitude": "", "longitude": ""}
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected an object.")
        serializer = GeoLocationSerializer(data=data)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        return {"latitude": serializer.validated_data["latitude"], "longitude": serializer.validated_data["longitude"]}

    def to_representation(self, instance: Any) -> dict[str, str] | None:
        return instance.coordinates


# --- Objects ------------------------------------------------------------------------------------


class _OcpiObjectSerializer(serializers.Serializer):
    """Shared behaviour: PATCH (partial) needs last_updated; output drops empty optional fields."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.partial and "last_updated" not in attrs:
            raise serializers.ValidationError({"last_updated": "required in every PATCH"})
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return prune(super().to_representation(instance))


class ConnectorSerializer(_OcpiObjectSerializer):
    id = CiStringField(max_length=36, source="ocpi_id")
    standard = EnumField(ConnectorType)
    format = EnumField(ConnectorFormat)
    power_type = EnumField(PowerType)
    max_voltage = StrictIntegerField(min_value=0)
    max_amperage = StrictIntegerField(min_value=0)
    max_electric_power = StrictIntegerField(min_value=0, **_optional())
    tariff_ids = serializers.ListField(child=CiStringField(max_length=36), **_optional())
    terms_and_conditions = OcpiUrlField(**_optional())
    capabilities = _enum_list(ConnectorCapability)  # 2.3.0
    last_updated = OcpiDateTimeField()


class EvseSerializer(_OcpiObjectSerializer):
    uid = CiStringField(max_length=36)
    evse_id = CiStringField(max_length=48, **_optional())
    status = EnumField(EVSEStatus)
    status_schedule = NestedJsonField(StatusScheduleSerializer, many=True, **_optional())
    capabilities = _enum_list(Capability)
    connectors = ConnectorSerializer(many=True, allow_empty=False)
    floor_level = OcpiStringField(max_length=4, **_optional())
    coordinates = GeoLocationField(**_optional())
    physical_reference = OcpiStringField(max_length=16, **_optional())
    directions = NestedJsonField(DisplayTextSerializer, many=True, **_optional())
    parking_restrictions = _enum_list(ParkingRestriction)
    parking = NestedJsonField(EVSEParkingSerializer, many=True, **_optional())  # 2.3.0
    images = NestedJsonField(ImageSerializer, many=True, **_optional())
    accepted_service_providers = serializers.ListField(child=OcpiStringField(max_length=50), **_optional())  # 2.3.0
    last_updated = OcpiDateTimeField()

    def validate_evse_id(self, value: str | None) -> str | None:
        if value and not EVSE_ID_RE.match(value):
            raise serializers.ValidationError("must be an eMI3 EVSE ID such as BE*BEC*E041503001")
        return value

    def validate_connectors(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = [item["ocpi_id"].upper() for item in value]
        if len(ids) != len(set(ids)):
            raise serializers.ValidationError("connector ids must be unique within the EVSE")
        return value


class LocationSerializer(_OcpiObjectSerializer):
    country_code = CiStringField(max_length=2, min_length=2)
    party_id = CiStringField(max_length=3, min_length=3)
    id = CiStringField(max_length=36, source="ocpi_id")
    publish = StrictBooleanField()
    publish_allowed_to = NestedJsonField(PublishTokenTypeSerializer, many=True, **_optional())
    name = OcpiStringField(max_length=255, **_optional())
    address = OcpiStringField(max_length=255)
    city = OcpiStringField(max_length=45)
    postal_code = OcpiStringField(max_length=10, **_optional())
    state = OcpiStringField(max_length=45, **_optional())
    country = OcpiStringField(max_length=3)
    coordinates = GeoLocationField()
    related_locations = NestedJsonField(AdditionalGeoLocationSerializer, many=True, **_optional())
    parking_type = EnumField(ParkingType, **_optional())
    evses = EvseSerializer(many=True, **_optional())
    parking_places = NestedJsonField(ParkingSerializer, many=True, **_optional())  # 2.3.0
    directions = NestedJsonField(DisplayTextSerializer, many=True, **_optional())
    operator = NestedJsonField(BusinessDetailsSerializer, **_optional())
    suboperator = NestedJsonField(BusinessDetailsSerializer, **_optional())
    owner = NestedJsonField(BusinessDetailsSerializer, **_optional())
    facilities = _enum_list(Facility)
    time_zone = OcpiStringField(max_length=255)
    opening_times = NestedJsonField(HoursSerializer, **_optional())
    charging_when_closed = StrictBooleanField(**_optional())
    images = NestedJsonField(ImageSerializer, many=True, **_optional())
    energy_mix = NestedJsonField(EnergyMixSerializer, **_optional())
    help_phone = CiStringField(max_length=25, **_optional())  # 2.3.0
    last_updated = OcpiDateTimeField()

    validate_parking_places = staticmethod(check_parking_ids)

    def validate_country(self, value: str) -> str:
        if not COUNTRY_ALPHA3_RE.match(value):
            raise serializers.ValidationError("must be an ISO 3166-1 alpha-3 code in capitals, e.g. NLD")
        return value

    def validate_time_zone(self, value: str) -> str:
        from ..models import validate_time_zone

        try:
            validate_time_zone(value)
        except DjangoValidationError:
            raise serializers.ValidationError("must be an IANA time zone name such as Europe/Oslo") from None
        return value

    def validate_evses(self, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        uids = [item["uid"].upper() for item in value or []]
        if len(uids) != len(set(uids)):
            raise serializers.ValidationError("EVSE uids must be unique within the location")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("publish") is True and attrs.get("publish_allowed_to"):
            raise serializers.ValidationError({"publish_allowed_to": "only allowed when publish is false"})
        if not self.partial or ("evses" in attrs and "parking_places" in attrs):
            # 2.3.0 EVSEParking.parking_id refers to a Parking of the containing Location's parking_places.
            known = {place["id"].upper() for place in attrs.get("parking_places") or []}
            for evse in attrs.get("evses") or []:
                unknown = [p["parking_id"] for p in evse.get("parking") or [] if p["parking_id"].upper() not in known]
                if unknown:
                    raise serializers.ValidationError(
                        {"evses": f"EVSE {evse['uid']} refers to unknown parking {', '.join(unknown)}"}
                    )
        return attrs


# --- The Sender's hot path: the builders live in locations/serializers.py (services and documents use them) ---

from ..serializers import (  # noqa: E402
    connector_to_ocpi,
    evse_to_ocpi,
    location_rows_to_ocpi,
    location_to_ocpi,
)

__all__ = ["connector_to_ocpi", "evse_to_ocpi", "location_rows_to_ocpi", "location_to_ocpi"]
