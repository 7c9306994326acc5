"""Canonical Token serializer (tokens.md 4.1 and 4.4): GET responses, pushes and inbound validation."""

from __future__ import annotations

from functools import cache
from typing import Any

from rest_framework import serializers

from ocpi_platform.ocpi.fields import (
    CiStringField,  # shared strict fields
    EnumField,
    OcpiDateTimeField,
    OcpiStringField,
    StrictBooleanField,
)
from tokens.models import AllowedType, ProfileType, TokenType, WhitelistType

TOKEN_FIELDS = (
    "country_code",
    "party_id",
    "uid",
    "type",
    "contract_id",
    "visual_number",
    "issuer",
    "group_id",
    "valid",
    "whitelist",
    "language",
    "default_profile_type",
    "energy_contract",
    "last_updated",
)
_OPTIONAL = ("visual_number", "group_id", "language", "default_profile_type", "energy_contract")


class EnergyContractSerializer(serializers.Serializer):
    supplier_name = OcpiStringField(max_length=64)
    contract_id = OcpiStringField(max_length=64, required=False, allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        return {key: value for key, value in data.items() if value is not None}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        return {key: item for key, item in value.items() if item is not None}


class TokenSerializer(serializers.Serializer):
    """OCPI Token. PUT: all required fields; PATCH: `partial=True`, `last_updated` still required."""

    country_code = CiStringField(max_length=2)
    party_id = CiStringField(max_length=3)
    uid = CiStringField(max_length=36, source="ocpi_id")
    type = EnumField(choices=TokenType.choices)
    contract_id = CiStringField(max_length=36)
    visual_number = OcpiStringField(max_length=64, required=False, allow_null=True, allow_blank=True)
    issuer = OcpiStringField(max_length=64)
    group_id = CiStringField(max_length=36, required=False, allow_null=True, allow_blank=True)
    valid = StrictBooleanField()
    whitelist = EnumField(choices=WhitelistType.choices)
    language = OcpiStringField(max_length=2, required=False, allow_null=True, allow_blank=True)
    default_profile_type = EnumField(choices=ProfileType.choices, required=False, allow_null=True)
    energy_contract = EnergyContractSerializer(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.partial:
            if "last_updated" not in attrs:
                # transport.md 4.3: last_updated is required in every PATCH (the spec's own 2001 example).
                raise serializers.ValidationError({"last_updated": "This field is required in every PATCH."})
            if attrs.get("energy_contract") is not None:
                # A PATCH replaces the whole EnergyContract, so it must be complete (partial mode skips that).
                nested = EnergyContractSerializer(data=self.initial_data["energy_contract"])
                if not nested.is_valid():
                    raise serializers.ValidationError({"energy_contract": nested.errors})
        return attrs

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for key in _OPTIONAL:
            if data.get(key) in (None, "", {}):
                data.pop(key, None)
        return data


class LocationReferencesSerializer(serializers.Serializer):
    """LocationReferences (tokens.md 4.3): the body of a real-time authorization and its echo."""

    location_id = CiStringField(max_length=36)
    evse_uids = serializers.ListField(child=CiStringField(max_length=36), required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        value.setdefault("evse_uids", [])
        return value

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not data.get("evse_uids"):
            data.pop("evse_uids", None)
        return data


class DisplayTextSerializer(serializers.Serializer):
    """DisplayText (transport.md 11): language string(2), text string(512)."""

    language = OcpiStringField(max_length=2)
    text = OcpiStringField(max_length=512)


class AuthorizationInfoSerializer(serializers.Serializer):
    """AuthorizationInfo (tokens.md 4.2): our eMSP's answer, and what our CPO accepts from a partner eMSP."""

    allowed = EnumField(choices=AllowedType.choices)
    token = TokenSerializer()
    location = LocationReferencesSerializer(required=False, allow_null=True)
    authorization_reference = CiStringField(max_length=36, required=False, allow_null=True)
    info = DisplayTextSerializer(required=False, allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        for key in ("location", "authorization_reference", "info"):
            if data.get(key) in (None, ""):
                data.pop(key, None)
        return data


@cache
def _authorization_info_serializer() -> AuthorizationInfoSerializer:
    return AuthorizationInfoSerializer()


@cache
def _location_references_serializer() -> LocationReferencesSerializer:
    return LocationReferencesSerializer()


def location_references_validate(data: Any) -> dict[str, Any]:
    """Validated LocationReferences (the body of POST {uid}/authorize), on the hot path of real-time authorization.

    Like `LocationReferencesSerializer(data=data).is_valid(raise_exception=True)` (the same ValidationError
    naming each field), through one shared serializer: validation keeps no state on it, and a new instance
    would deep-copy its fields on every request.
    """
    return dict(_location_references_serializer().run_validation(data))


def authorization_info_data(info: Any) -> dict[str, Any]:
    """AuthorizationInfo as JSON data, on the hot path of real-time authorization.

    Uses one shared serializer: a new instance deep-copies its ~30 nested fields (0.4 ms, 20x the rendering
    itself); to_representation keeps no per-call state, so sharing it between threads is safe.
    """
    return _authorization_info_serializer().to_representation(info)
