"""Canonical OCPI 2.2.1 CDR serializers (cdrs.md 4): GET responses, pushes and inbound validation.

`CdrSerializer(data=...)` validates an OCPI CDR; its `validated_data` is keyed by *model field names*
(`id` -> `ocpi_id`, each Price -> `<name>_excl_vat`/`<name>_incl_vat`) and holds the value objects (CdrToken,
CdrLocation, Tariffs, ChargingPeriods, SignedData) in their canonical JSON form, ready for the JSON columns.
`CdrSerializer(cdr).data` (or the alias `cdr_to_ocpi`) renders a stored Cdr; it does no queries.

Strict types (a number where a string is expected is a 2001 naming the field), unknown fields ignored, optional
fields that are null/empty left out of the output. Numbers with more than 6 decimals are rounded (half up) rather
than refused: OCPI numbers have 4 decimals, partners sometimes send more.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from locations.constants import COUNTRY_ALPHA3_RE, ConnectorFormat, ConnectorType, PowerType
from locations.serializers import GeoLocationSerializer
from ocpi_platform.ocpi.fields import (
    CiStringField,
    EnumField,  # shared strict fields
    OcpiDateTimeField,
    OcpiNumberField,
    OcpiStringField,
    StrictBooleanField,
    StrictIntegerField,
)
from tariffs.serializers import TariffSerializer
from tokens.models import TokenType

from .models import NON_NEGATIVE_DIMENSIONS, AuthMethod, CdrDimensionType

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
NON_CREDIT_ID_MAX = 36  # cdrs.md 4.1: only credit CDRs may use all 39 characters
_SIX_PLACES = Decimal("0.000001")

#: The OCPI Price fields of a CDR (each stored as <name>_excl_vat / <name>_incl_vat).
PRICE_FIELDS = (
    "total_cost",
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)


def _optional(**kwargs: Any) -> dict[str, Any]:
    return {"required": False, "allow_null": True, **kwargs}


def _prune(data: Mapping[str, Any], fields: Mapping[str, serializers.Field]) -> dict[str, Any]:
    """Leave out optional fields that are null, "" or []."""
    return {
        key: value
        for key, value in data.items()
        if value is not None and (fields[key].required or not (value == "" or value == []))
    }


class NumberField(OcpiNumberField):
    """OCPI number kept as Decimal; more than 6 decimals are rounded half up instead of refused."""

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | Decimal):
            self.fail("invalid")
        value = Decimal(str(data))
        exponent = value.as_tuple().exponent  # an int for a finite value
        if isinstance(exponent, int) and exponent < -6:
            value = value.quantize(_SIX_PLACES, rounding=ROUND_HALF_UP)
        return super().to_internal_value(value)


class _ValueSerializer(serializers.Serializer):
    """Base of the value objects: output leaves out empty optional fields; no create()/update()."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return _prune(super().to_representation(instance), self.fields)

    def create(self, validated_data: Any) -> Any:  # pragma: no cover - writes go through cdrs.services
        raise NotImplementedError("use cdrs.services")

    def update(self, instance: Any, validated_data: Any) -> Any:  # pragma: no cover
        raise NotImplementedError("use cdrs.services")


# --- Value objects (cdrs.md 4.2 - 4.7, transport.md 11) --------------------------------------------


class PriceSerializer(_ValueSerializer):
    """OCPI Price. Signed: credit CDRs carry negative costs (cdrs.md 1.1, spec-issues E1)."""

    excl_vat = NumberField()
    incl_vat = NumberField(**_optional())


class CdrDimensionSerializer(_ValueSerializer):
    type = EnumField(CdrDimensionType)
    volume = NumberField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Energy one way, times and SoC cannot be negative (NON_NEGATIVE_DIMENSIONS); 2001 naming `volume`."""
        if attrs["type"] in NON_NEGATIVE_DIMENSIONS and attrs["volume"] < 0:
            raise serializers.ValidationError({"volume": f"must not be negative for {attrs['type']}"})
        return attrs


class ChargingPeriodSerializer(_ValueSerializer):
    start_date_time = OcpiDateTimeField()
    dimensions = CdrDimensionSerializer(many=True, allow_empty=False)
    tariff_id = CiStringField(max_length=36, **_optional())


class CdrTokenSerializer(_ValueSerializer):
    country_code = CiStringField(max_length=2)
    party_id = CiStringField(max_length=3)
    uid = CiStringField(max_length=36)
    type = EnumField(TokenType)
    contract_id = CiStringField(max_length=36)


class CdrLocationSerializer(_ValueSerializer):
    id = CiStringField(max_length=36)
    name = OcpiStringField(max_length=255, **_optional())
    address = OcpiStringField(max_length=45)
    city = OcpiStringField(max_length=45)
    postal_code = OcpiStringField(max_length=10, **_optional())
    state = OcpiStringField(max_length=20, **_optional())
    country = OcpiStringField(
        max_length=3, validators=[RegexValidator(COUNTRY_ALPHA3_RE, "must be an ISO 3166-1 alpha-3 code")]
    )
    coordinates = GeoLocationSerializer()
    evse_uid = CiStringField(max_length=36)
    evse_id = CiStringField(max_length=48)
    connector_id = CiStringField(max_length=36)
    connector_standard = EnumField(ConnectorType)
    connector_format = EnumField(ConnectorFormat)
    connector_power_type = EnumField(PowerType)


class SignedValueSerializer(_ValueSerializer):
    nature = CiStringField(max_length=32)
    plain_data = OcpiStringField(max_length=5000)
    signed_data = OcpiStringField(max_length=5000)


class SignedDataSerializer(_ValueSerializer):
    encoding_method = CiStringField(max_length=36)
    encoding_method_version = StrictIntegerField(**_optional())
    public_key = OcpiStringField(max_length=512, **_optional())
    signed_values = SignedValueSerializer(many=True, allow_empty=False)
    url = OcpiStringField(max_length=512, **_optional())


# --- Fields mapping OCPI values to model columns ---------------------------------------------------


class SnapshotField(serializers.Field):
    """A value object kept in a JSON column: validated by `serializer_class`, stored in canonical JSON form.

    Reading returns the stored JSON unchanged (it was canonicalised when written).
    """

    def __init__(self, serializer_class: type[serializers.Serializer], *, many: bool = False, **kwargs: Any) -> None:
        self.serializer_class = serializer_class
        self.many = many
        self.allow_empty = kwargs.pop("allow_empty", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Any:
        if self.many and not isinstance(data, list):
            raise serializers.ValidationError("Expected a list of items.")
        if not self.many and not isinstance(data, dict):
            raise serializers.ValidationError("Expected an object.")
        if self.many and not data and not self.allow_empty:
            raise serializers.ValidationError("This list may not be empty.")
        serializer = self.serializer_class(data=data, many=self.many)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        return serializer.to_representation(serializer.validated_data)

    def to_representation(self, value: Any) -> Any:
        return value


class PriceField(serializers.Field):
    """An OCPI Price <-> the model's `<prefix>_excl_vat` / `<prefix>_incl_vat` columns (source '*')."""

    def __init__(self, prefix: str, **kwargs: Any) -> None:
        self.prefix = prefix
        super().__init__(source="*", **kwargs)

    def _columns(self, excl: Any, incl: Any) -> dict[str, Any]:
        return {f"{self.prefix}_excl_vat": excl, f"{self.prefix}_incl_vat": incl}

    def validate_empty_values(self, data: Any) -> tuple[bool, Any]:
        if data is None and self.allow_null:
            return True, self._columns(None, None)
        return super().validate_empty_values(data)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected an object.")
        serializer = PriceSerializer(data=data)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        return self._columns(serializer.validated_data["excl_vat"], serializer.validated_data.get("incl_vat"))

    def to_representation(self, instance: Any) -> dict[str, Any] | None:
        if isinstance(instance, Mapping):
            excl, incl = instance.get(f"{self.prefix}_excl_vat"), instance.get(f"{self.prefix}_incl_vat")
        else:
            excl, incl = getattr(instance, f"{self.prefix}_excl_vat"), getattr(instance, f"{self.prefix}_incl_vat")
        if excl is None:
            return None
        return PriceSerializer({"excl_vat": excl, "incl_vat": incl}).data


# --- CDR -------------------------------------------------------------------------------------------


class CdrSerializer(_ValueSerializer):
    country_code = CiStringField(max_length=2)
    party_id = CiStringField(max_length=3)
    id = CiStringField(max_length=39, source="ocpi_id")
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField()
    session_id = CiStringField(max_length=36, **_optional())
    cdr_token = SnapshotField(CdrTokenSerializer)
    auth_method = EnumField(AuthMethod)
    authorization_reference = CiStringField(max_length=36, **_optional())
    cdr_location = SnapshotField(CdrLocationSerializer)
    meter_id = OcpiStringField(max_length=255, **_optional())
    currency = OcpiStringField(max_length=3, validators=[RegexValidator(CURRENCY_RE, "must be an ISO 4217 code")])
    tariffs = SnapshotField(TariffSerializer, many=True, **_optional())
    charging_periods = SnapshotField(ChargingPeriodSerializer, many=True, allow_empty=False)
    signed_data = SnapshotField(SignedDataSerializer, **_optional())
    total_cost = PriceField("total_cost")
    total_fixed_cost = PriceField("total_fixed_cost", **_optional())
    total_energy = NumberField(min_value=Decimal(0))
    total_energy_cost = PriceField("total_energy_cost", **_optional())
    total_time = NumberField(min_value=Decimal(0))
    total_time_cost = PriceField("total_time_cost", **_optional())
    total_parking_time = NumberField(min_value=Decimal(0), **_optional())
    total_parking_cost = PriceField("total_parking_cost", **_optional())
    total_reservation_cost = PriceField("total_reservation_cost", **_optional())
    remark = OcpiStringField(max_length=255, **_optional())
    invoice_reference_id = CiStringField(max_length=39, **_optional())
    credit = StrictBooleanField(**_optional())
    credit_reference_id = CiStringField(max_length=39, **_optional())
    home_charging_compensation = StrictBooleanField(**_optional())
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs["country_code"] = attrs["country_code"].upper()
        attrs["party_id"] = attrs["party_id"].upper()
        if attrs.get("credit"):
            if not attrs.get("credit_reference_id"):
                raise serializers.ValidationError({"credit_reference_id": "required when credit is true"})
        elif len(attrs["ocpi_id"]) > NON_CREDIT_ID_MAX:
            raise serializers.ValidationError({"id": f"at most {NON_CREDIT_ID_MAX} characters unless credit is true"})
        if attrs["end_date_time"] < attrs["start_date_time"]:
            raise serializers.ValidationError({"end_date_time": "must not be before start_date_time"})
        return attrs


def cdr_to_ocpi(cdr: Any) -> dict[str, Any]:
    """The OCPI CDR object of a stored Cdr (no queries)."""
    return CdrSerializer().to_representation(cdr)


def cdrs_to_ocpi(cdrs: Iterable[Any]) -> list[dict[str, Any]]:
    serializer = CdrSerializer()
    return [serializer.to_representation(cdr) for cdr in cdrs]
