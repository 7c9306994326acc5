"""Canonical OCPI 2.2.1 Tariff serializers (tariffs.md 4): GET responses, pushes and inbound validation.

Output leaves out optional fields that are null/empty, like the spec's examples. Inbound: strict types
(a number where a string is expected is 2001 naming the field), unknown fields ignored. Tariffs have no
PATCH in 2.2.1, so there is no partial mode. `tariff_to_ocpi` is the fast path of
`TariffSerializer(tariff).data` for list pages (same output, tested).

The internal shape also carries OCPI 2.3.0's `tax_included` when it is set (stored from a 2.3.0 partner or chosen
in the admin); without it the object is exactly the 2.2.1 one (tariffs/wire.py drops it for 2.2.1 and 2.1.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator, URLValidator
from rest_framework import serializers

from ocpi_platform.ocpi.envelope import format_datetime
from ocpi_platform.ocpi.fields import (
    CiStringField,  # shared strict fields
    OcpiDateTimeField,
    OcpiNumberField,
    OcpiStringField,
    StrictBooleanField,
    StrictIntegerField,
)
from tariffs.models import (
    DayOfWeek,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffType,
    TaxIncluded,
    json_number,
)

ZERO = Decimal(0)
TIME_RE = re.compile(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")
DATE_RE = re.compile(r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# Reservation elements may only contain FLAT and TIME components (tariffs.md 4.4).
RESERVATION_DIMENSIONS = frozenset({TariffDimensionType.FLAT.value, TariffDimensionType.TIME.value})


def validate_time(value: str) -> None:
    if not TIME_RE.match(value):
        raise serializers.ValidationError("must be a local time of day HH:MM (00:00 to 23:59)")


def validate_date(value: str) -> None:
    try:
        ok = bool(DATE_RE.match(value)) and date.fromisoformat(value) is not None
    except ValueError:
        ok = False
    if not ok:
        raise serializers.ValidationError("must be a local date YYYY-MM-DD")


def _number(**kwargs: Any) -> OcpiNumberField:
    kwargs.setdefault("min_value", ZERO)
    return OcpiNumberField(**kwargs)


def _optional(**kwargs: Any) -> dict[str, Any]:
    return {"required": False, "allow_null": True, **kwargs}


class OcpiObjectSerializer(serializers.Serializer):
    """Base: leaves out optional fields whose value is null or empty ("" or [])."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        return {
            key: value
            for key, value in data.items()
            if value is not None and (self.fields[key].required or not (value == "" or value == []))
        }

    def create(self, validated_data: Any) -> Any:  # pragma: no cover - writes go through services
        raise NotImplementedError("use tariffs.services")

    def update(self, instance: Any, validated_data: Any) -> Any:  # pragma: no cover
        raise NotImplementedError("use tariffs.services")


class DisplayTextSerializer(OcpiObjectSerializer):
    language = OcpiStringField(min_length=2, max_length=2)
    text = OcpiStringField(max_length=512)


class PriceSerializer(OcpiObjectSerializer):
    excl_vat = _number()
    incl_vat = _number(**_optional())


class EnergySourceSerializer(OcpiObjectSerializer):
    source = serializers.ChoiceField(choices=EnergySourceCategory.choices)  # type: ignore[assignment]  # spec name
    percentage = _number(max_value=Decimal(100))


class EnvironmentalImpactSerializer(OcpiObjectSerializer):
    category = serializers.ChoiceField(choices=EnvironmentalImpactCategory.choices)
    amount = _number()


class EnergyMixSerializer(OcpiObjectSerializer):
    is_green_energy = StrictBooleanField()
    energy_sources = EnergySourceSerializer(many=True, **_optional())
    environ_impact = EnvironmentalImpactSerializer(many=True, **_optional())
    supplier_name = OcpiStringField(max_length=64, **_optional())
    energy_product_name = OcpiStringField(max_length=64, **_optional())


class PriceComponentSerializer(OcpiObjectSerializer):
    type = serializers.ChoiceField(choices=TariffDimensionType.choices)
    price = _number()  # excl. VAT
    vat = _number(**_optional())  # omitted = no VAT applicable (differs from 0.0)
    step_size = StrictIntegerField(min_value=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # step_size has no unit for FLAT (the spec's free-of-charge example uses 0); elsewhere >= 1.
        if attrs["type"] != TariffDimensionType.FLAT and attrs["step_size"] < 1:
            raise serializers.ValidationError({"step_size": "must be a positive integer"})
        return attrs


class TariffRestrictionsSerializer(OcpiObjectSerializer):
    start_time = OcpiStringField(max_length=5, validators=[validate_time], **_optional())
    end_time = OcpiStringField(max_length=5, validators=[validate_time], **_optional())
    start_date = OcpiStringField(max_length=10, validators=[validate_date], **_optional())
    end_date = OcpiStringField(max_length=10, validators=[validate_date], **_optional())
    min_kwh = _number(**_optional())
    max_kwh = _number(**_optional())
    min_current = _number(**_optional())
    max_current = _number(**_optional())
    min_power = _number(**_optional())
    max_power = _number(**_optional())
    min_duration = StrictIntegerField(min_value=0, **_optional())
    max_duration = StrictIntegerField(min_value=0, **_optional())
    day_of_week = serializers.ListField(child=serializers.ChoiceField(choices=DayOfWeek.choices), **_optional())
    reservation = serializers.ChoiceField(choices=ReservationRestrictionType.choices, **_optional())


class TariffElementSerializer(OcpiObjectSerializer):
    price_components = PriceComponentSerializer(many=True, allow_empty=False)
    restrictions = TariffRestrictionsSerializer(**_optional())

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        restrictions = attrs.get("restrictions") or {}
        if restrictions.get("reservation"):
            wrong = sorted({c["type"] for c in attrs["price_components"]} - RESERVATION_DIMENSIONS)
            if wrong:
                message = f"a reservation element may only contain FLAT and TIME, not {', '.join(wrong)}"
                raise serializers.ValidationError({"price_components": message})
        return attrs


class TariffSerializer(OcpiObjectSerializer):
    country_code = CiStringField(max_length=2)
    party_id = CiStringField(max_length=3)
    id = CiStringField(max_length=36, source="ocpi_id")
    currency = OcpiStringField(max_length=3, validators=[RegexValidator(CURRENCY_RE, "must be an ISO 4217 code")])
    type = serializers.ChoiceField(choices=TariffType.choices, **_optional())
    tariff_alt_text = DisplayTextSerializer(many=True, **_optional())
    tariff_alt_url = OcpiStringField(max_length=255, validators=[URLValidator()], **_optional())
    min_price = PriceSerializer(**_optional())
    max_price = PriceSerializer(**_optional())
    elements = TariffElementSerializer(many=True, allow_empty=False)
    # OCPI 2.3.0 TaxIncluded, kept internally (emitted only when set; tariffs/wire.py drops it for 2.2.1/2.1.1).
    tax_included = serializers.ChoiceField(choices=TaxIncluded.choices, **_optional())
    start_date_time = OcpiDateTimeField(**_optional())
    end_date_time = OcpiDateTimeField(**_optional())
    energy_mix = EnergyMixSerializer(**_optional())
    last_updated = OcpiDateTimeField()


# --- Fast path ------------------------------------------------------------------------------------

_RESTRICTION_KEYS = (
    "start_time",
    "end_time",
    "start_date",
    "end_date",
    "min_kwh",
    "max_kwh",
    "min_current",
    "max_current",
    "min_power",
    "max_power",
    "min_duration",
    "max_duration",
    "day_of_week",
    "reservation",
)
_RESTRICTION_NUMBERS = frozenset({"min_kwh", "max_kwh", "min_current", "max_current", "min_power", "max_power"})
_RESTRICTION_INTS = frozenset({"min_duration", "max_duration"})


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    """Optional field: left out when null or empty, as OcpiObjectSerializer does."""
    if value is not None and value != "" and value != []:
        out[key] = value


def _price_out(price: dict[str, Any] | None) -> dict[str, Any] | None:
    if price is None:
        return None
    out: dict[str, Any] = {"excl_vat": json_number(price["excl_vat"])}
    if price.get("incl_vat") is not None:
        out["incl_vat"] = json_number(price["incl_vat"])
    return out


def _component_out(component: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": component["type"], "price": json_number(component["price"])}
    if component.get("vat") is not None:
        out["vat"] = json_number(component["vat"])
    out["step_size"] = int(component["step_size"])
    return out


def _restrictions_out(restrictions: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _RESTRICTION_KEYS:
        value = restrictions.get(key)
        if value is None:
            continue
        if key in _RESTRICTION_NUMBERS:
            value = json_number(value)
        elif key in _RESTRICTION_INTS:
            value = int(value)
        elif key == "day_of_week":
            value = list(value)
        _put(out, key, value)
    return out


def _energy_mix_out(mix: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"is_green_energy": mix["is_green_energy"]}
    if mix.get("energy_sources") is not None:
        _put(
            out,
            "energy_sources",
            [{"source": s["source"], "percentage": json_number(s["percentage"])} for s in mix["energy_sources"]],
        )
    if mix.get("environ_impact") is not None:
        _put(
            out,
            "environ_impact",
            [{"category": i["category"], "amount": json_number(i["amount"])} for i in mix["environ_impact"]],
        )
    _put(out, "supplier_name", mix.get("supplier_name"))
    _put(out, "energy_product_name", mix.get("energy_product_name"))
    return out


def tariff_to_ocpi(tariff: Tariff) -> dict[str, Any]:
    """The OCPI Tariff object; no queries when `elements` is prefetched. Same output as TariffSerializer."""
    out: dict[str, Any] = {
        "country_code": tariff.country_code,
        "party_id": tariff.party_id,
        "id": tariff.ocpi_id,
        "currency": tariff.currency,
    }
    _put(out, "type", tariff.type)
    _put(
        out,
        "tariff_alt_text",
        [{"language": t["language"], "text": t["text"]} for t in tariff.tariff_alt_text or []],
    )
    _put(out, "tariff_alt_url", tariff.tariff_alt_url)
    _put(out, "min_price", _price_out(tariff.min_price))
    _put(out, "max_price", _price_out(tariff.max_price))
    elements = []
    for element in tariff.elements.all():
        item: dict[str, Any] = {"price_components": [_component_out(c) for c in element.price_components]}
        if element.restrictions is not None:
            item["restrictions"] = _restrictions_out(element.restrictions)
        elements.append(item)
    out["elements"] = elements
    _put(out, "tax_included", tariff.tax_included)
    if tariff.start_date_time is not None:
        out["start_date_time"] = format_datetime(tariff.start_date_time)
    if tariff.end_date_time is not None:
        out["end_date_time"] = format_datetime(tariff.end_date_time)
    if tariff.energy_mix is not None:
        out["energy_mix"] = _energy_mix_out(tariff.energy_mix)
    out["last_updated"] = format_datetime(tariff.last_updated)
    return out


def tariffs_to_ocpi(tariffs: Iterable[Tariff]) -> list[dict[str, Any]]:
    return [tariff_to_ocpi(tariff) for tariff in tariffs]
