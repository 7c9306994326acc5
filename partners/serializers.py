"""The Configuration modules' objects: Credentials and CredentialsRole (credentials.md 2), ClientInfo
(hubclientinfo.md 5).

Not an api module: the credentials handshake (partners.services) and the ClientInfo pull (partners.hub_pull)
validate what a partner answers with them, and the views (partners.api) use them too.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from ocpi_platform.ocpi.fields import CiStringField, OcpiDateTimeField, OcpiSerializer, OcpiStringField, StrictCharField
from ocpi_platform.ocpi.tokens import is_valid_token

from .models import ConnectionStatus, Role


class ImageSerializer(OcpiSerializer):
    url = StrictCharField(max_length=255)
    thumbnail = StrictCharField(max_length=255, required=False, allow_null=True)
    category = StrictCharField(max_length=20)
    type = CiStringField(max_length=4)
    width = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=99999)
    height = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=99999)


class BusinessDetailsSerializer(OcpiSerializer):
    name = OcpiStringField(max_length=100)
    website = StrictCharField(max_length=255, required=False, allow_null=True)
    logo = ImageSerializer(required=False, allow_null=True)


class CredentialsRoleSerializer(OcpiSerializer):
    role = serializers.ChoiceField(choices=Role.choices)
    business_details = BusinessDetailsSerializer()
    party_id = CiStringField(max_length=3, min_length=3)
    country_code = CiStringField(max_length=2, min_length=2)


class CredentialsSerializer(OcpiSerializer):
    token = StrictCharField(max_length=64, trim_whitespace=False)
    url = StrictCharField(max_length=255)
    roles = CredentialsRoleSerializer(many=True, allow_empty=False)

    def validate_token(self, value: str) -> str:
        if not is_valid_token(value):
            raise serializers.ValidationError("must be 1-64 printable non-whitespace ASCII characters")
        return value

    def validate_url(self, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise serializers.ValidationError("must be an absolute http(s) URL of the versions endpoint")
        return value

    def validate_roles(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        keys = [(r["role"], r["country_code"].upper(), r["party_id"].upper()) for r in value]
        if len(keys) != len(set(keys)):
            raise serializers.ValidationError("each (role, country_code, party_id) may appear once")
        return value


class StrictChoiceField(serializers.ChoiceField):
    """A closed OCPI enum: only the exact (case-sensitive) spec strings."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class ClientInfoSerializer(OcpiSerializer):
    """ClientInfo (hubclientinfo.md 5)."""

    party_id = CiStringField(max_length=3, min_length=3)
    country_code = CiStringField(max_length=2, min_length=2)
    role = StrictChoiceField(choices=Role.choices)
    status = StrictChoiceField(choices=ConnectionStatus.choices)
    last_updated = OcpiDateTimeField()
