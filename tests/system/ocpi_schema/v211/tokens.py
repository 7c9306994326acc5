"""OCPI 2.1.1 Tokens module objects (mod_tokens.md 3-4): Token, AuthorizationInfo, LocationReferences.

2.1.1 `string` is printable ASCII (types.md 1.5): CiString's pattern, case kept.
"""

from typing import Literal

from ..tokens import AllowedType, WhitelistType
from ..types import CiString, DateTime, DisplayText, Language, OcpiModel

TokenType = Literal["OTHER", "RFID"]

__all__ = ["AllowedType", "AuthorizationInfo", "LocationReferences", "Token", "TokenType"]


class Token(OcpiModel):
    uid: CiString(36)
    type: TokenType
    auth_id: CiString(36)
    visual_number: CiString(64) | None = None
    issuer: CiString(64)
    valid: bool
    whitelist: WhitelistType
    language: Language | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    location_id: CiString(39)
    evse_uids: list[CiString(39)] | None = None
    connector_ids: list[CiString(36)] | None = None


class AuthorizationInfo(OcpiModel):
    allowed: AllowedType
    location: LocationReferences | None = None
    info: DisplayText | None = None
