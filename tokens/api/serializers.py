"""Tokens API: the `type` query parameter; the OCPI serializers live in tokens/serializers.py (the real-time
authorization uses them too) and are re-exported here under the names the views, OpenAPI and tests use."""

from __future__ import annotations

from rest_framework.request import Request

from ocpi_platform.ocpi.exceptions import InvalidParameters
from tokens.models import TokenType

from ..serializers import (
    AuthorizationInfoSerializer,
    DisplayTextSerializer,
    EnergyContractSerializer,
    LocationReferencesSerializer,
    TokenSerializer,
    authorization_info_data,
    location_references_validate,
)

__all__ = [
    "AuthorizationInfoSerializer",
    "DisplayTextSerializer",
    "EnergyContractSerializer",
    "LocationReferencesSerializer",
    "TokenSerializer",
    "authorization_info_data",
    "location_references_validate",
    "token_type_param",
]


def token_type_param(request: Request) -> str:
    """The `type` query parameter of the token URLs (tokens.md 2 and 3.2): a TokenType, RFID when omitted."""
    value = request.query_params.get("type")
    if value in (None, ""):
        return TokenType.RFID
    if value not in TokenType.values:
        raise InvalidParameters(
            f"Invalid or missing parameters: type: {value!r} is not a TokenType ({', '.join(TokenType.values)})"
        )
    return value
