"""Canonical OCPI 2.2.1 Session serializers (sessions.md 4, cdrs.md 4.3-4.5): GET responses, pushes, inbound.

Output: `SessionSerializer(session).data` (= `session_to_ocpi(session)`) leaves out optional fields that are
null/empty, like the spec's examples. Input: strict types (a number where a string is expected is 2001 naming
the field), unknown fields ignored; `partial=True` for a Receiver PATCH (then `last_updated` is still
required and a nested object that is given must be complete).
`validated_data` keeps OCPI names except `id` -> `ocpi_id`; nested values stay dicts with Decimal numbers and
aware datetimes (services turn them into the stored OCPI form with `to_stored_*`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from ocpi_platform.ocpi.envelope import format_datetime
from ocpi_platform.ocpi.fields import (
    CiStringField,
    EnumField,  # shared strict fields
    OcpiDateTimeField,
    OcpiNumberField,
    OcpiStringField,
    StrictBooleanField,
)
from sessions.models import (
    NON_NEGATIVE_DIMENSIONS,
    AuthMethod,
    CdrDimensionType,
    ChargingSession,
    ProfileType,
    SessionStatus,
    TokenType,
)

CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


def json_number(value: Any) -> int | float | None:
    """Decimal -> JSON number for the stored OCPI form (int when integral)."""
    if value is None:
        return None
    number = Decimal(str(value)).normalize()
    return int(number) if number == number.to_integral_value() else float(number)


class _Compact(serializers.Serializer):
    """Leaves out optional keys that are None (cardinality '?')."""

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        return {key: value for key, value in data.items() if value is not None or self.fields[key].required}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        return {key: item for key, item in value.items() if item is not None}


class CdrTokenSerializer(_Compact):
    """cdrs.md 4.3: the token that started the session; country_code/party_id are its eMSP's."""

    country_code = CiStringField(max_length=2)
    party_id = CiStringField(max_length=3)
    uid = CiStringField(max_length=36)
    type = EnumField(choices=TokenType.choices)
    contract_id = CiStringField(max_length=36)


class CdrDimensionSerializer(_Compact):
    """cdrs.md 4.5 (volumes in kWh, A, kW, hours or %; spec-issues D3: the examples' Wh-looking values)."""

    type = EnumField(choices=CdrDimensionType.choices)
    volume = OcpiNumberField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Energy one way, times and SoC cannot be negative (NON_NEGATIVE_DIMENSIONS); 2001 naming `volume`."""
        if attrs["type"] in NON_NEGATIVE_DIMENSIONS and attrs["volume"] < 0:
            raise serializers.ValidationError({"volume": f"must not be negative for {attrs['type']}"})
        return attrs


class ChargingPeriodSerializer(_Compact):
    """cdrs.md 4.4: a period starts at start_date_time and ends when the next one starts."""

    start_date_time = OcpiDateTimeField()
    dimensions = CdrDimensionSerializer(many=True, allow_empty=False)
    tariff_id = CiStringField(max_length=36, required=False, allow_null=True)


class PriceSerializer(_Compact):
    """transport.md 11 Price."""

    excl_vat = OcpiNumberField()
    incl_vat = OcpiNumberField(required=False, allow_null=True)


class ChargingPreferencesSerializer(_Compact):
    """sessions.md 4.2."""

    profile_type = EnumField(choices=ProfileType.choices)
    departure_time = OcpiDateTimeField(required=False, allow_null=True)
    energy_need = OcpiNumberField(required=False, allow_null=True, min_value=Decimal(0))
    discharge_allowed = StrictBooleanField(required=False, allow_null=True)


def _validate_currency(value: str) -> None:
    if not CURRENCY_RE.match(value):
        raise serializers.ValidationError("must be an ISO 4217 currency code such as EUR")


# Nested objects a PATCH may carry; partial mode would skip their required fields, so they are re-checked.
_NESTED = {
    "cdr_token": (CdrTokenSerializer, False),
    "total_cost": (PriceSerializer, False),
    "charging_periods": (ChargingPeriodSerializer, True),
}


class SessionSerializer(_Compact):
    """OCPI Session (sessions.md 4.1). PUT: all required fields; PATCH: `partial=True`."""

    country_code = CiStringField(max_length=2)
    party_id = CiStringField(max_length=3)
    id = CiStringField(max_length=36, source="ocpi_id")
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField(required=False, allow_null=True)
    kwh = OcpiNumberField(min_value=Decimal(0))  # energy charged so far: never negative
    cdr_token = CdrTokenSerializer()
    auth_method = EnumField(choices=AuthMethod.choices)
    authorization_reference = CiStringField(max_length=36, required=False, allow_null=True)
    location_id = CiStringField(max_length=36)
    evse_uid = CiStringField(max_length=36)
    connector_id = CiStringField(max_length=36)
    meter_id = OcpiStringField(max_length=255, required=False, allow_null=True)
    currency = OcpiStringField(max_length=3, validators=[_validate_currency])
    charging_periods = ChargingPeriodSerializer(many=True, required=False, allow_null=True)
    total_cost = PriceSerializer(required=False, allow_null=True)
    status = EnumField(choices=SessionStatus.choices)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.partial:
            if "last_updated" not in attrs:
                # transport.md 4.3: last_updated is required in every PATCH (the spec's own 2001 example).
                raise serializers.ValidationError({"last_updated": "This field is required in every PATCH."})
            errors = {}
            for name, (nested, many) in _NESTED.items():
                if attrs.get(name) is None:
                    continue
                check = nested(data=self.initial_data[name], many=many)
                if not check.is_valid():
                    errors[name] = check.errors
            if errors:
                raise serializers.ValidationError(errors)
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, ChargingSession):
            return session_to_ocpi(instance)
        return super().to_representation(instance)


# --- Model <-> OCPI ---------------------------------------------------------------------------------


def session_to_ocpi(session: ChargingSession) -> dict[str, Any]:
    """The OCPI Session of a row: the GET/push representation (no queries: JSON columns hold the nested parts)."""
    data: dict[str, Any] = {
        "country_code": session.country_code,
        "party_id": session.party_id,
        "id": session.ocpi_id,
        "start_date_time": format_datetime(session.start_date_time),
    }
    if session.end_date_time is not None:
        data["end_date_time"] = format_datetime(session.end_date_time)
    data["kwh"] = json_number(session.kwh)
    data["cdr_token"] = dict(session.cdr_token or {})
    data["auth_method"] = session.auth_method
    if session.authorization_reference:
        data["authorization_reference"] = session.authorization_reference
    data["location_id"] = session.location_id
    data["evse_uid"] = session.evse_uid
    data["connector_id"] = session.connector_id
    if session.meter_id:
        data["meter_id"] = session.meter_id
    data["currency"] = session.currency
    if session.charging_periods:
        data["charging_periods"] = list(session.charging_periods)
    if session.total_cost_excl_vat is not None:
        price: dict[str, Any] = {"excl_vat": json_number(session.total_cost_excl_vat)}
        if session.total_cost_incl_vat is not None:
            price["incl_vat"] = json_number(session.total_cost_incl_vat)
        data["total_cost"] = price
    data["status"] = session.status
    data["last_updated"] = format_datetime(session.last_updated)
    return data


def to_stored_token(token: Mapping[str, Any]) -> dict[str, Any]:
    """A validated CdrToken as stored (OCPI form, key order of the spec)."""
    return {key: token[key] for key in ("country_code", "party_id", "uid", "type", "contract_id")}


def to_stored_dimension(dimension: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": dimension["type"], "volume": json_number(dimension["volume"])}


def to_stored_period(period: Mapping[str, Any]) -> dict[str, Any]:
    """A validated ChargingPeriod as stored: OCPI JSON (DateTime text, numbers)."""
    start = period["start_date_time"]
    stored: dict[str, Any] = {
        "start_date_time": format_datetime(start) if isinstance(start, datetime) else start,
        "dimensions": [to_stored_dimension(d) for d in period["dimensions"]],
    }
    if period.get("tariff_id"):
        stored["tariff_id"] = period["tariff_id"]
    return stored


def to_stored_periods(periods: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    return [to_stored_period(p) for p in periods or []]


def to_stored_preferences(preferences: Mapping[str, Any]) -> dict[str, Any]:
    stored: dict[str, Any] = {"profile_type": preferences["profile_type"]}
    if preferences.get("departure_time") is not None:
        stored["departure_time"] = format_datetime(preferences["departure_time"])
    if preferences.get("energy_need") is not None:
        stored["energy_need"] = json_number(preferences["energy_need"])
    stored["discharge_allowed"] = bool(preferences.get("discharge_allowed", False))
    return stored
