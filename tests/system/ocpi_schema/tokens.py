"""Tokens module objects (tokens.md 4-5): Token, AuthorizationInfo, LocationReferences, EnergyContract."""

from typing import Literal

from .locations import TokenType
from .types import CiString, CountryCode, DateTime, DisplayText, Language, OcpiModel, PartyId, String

AllowedType = Literal["ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"]
ProfileType = Literal["CHEAP", "FAST", "GREEN", "REGULAR"]
WhitelistType = Literal["ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"]

__all__ = ["AllowedType", "AuthorizationInfo", "EnergyContract", "LocationReferences", "Token", "TokenType"]


class EnergyContract(OcpiModel):
    supplier_name: String(64)
    contract_id: String(64) | None = None


class Token(OcpiModel):
    country_code: CountryCode
    party_id: PartyId
    uid: CiString(36)
    type: TokenType
    contract_id: CiString(36)
    visual_number: String(64) | None = None
    issuer: String(64)
    group_id: CiString(36) | None = None
    valid: bool
    whitelist: WhitelistType
    language: Language | None = None
    default_profile_type: ProfileType | None = None
    energy_contract: EnergyContract | None = None
    last_updated: DateTime


class LocationReferences(OcpiModel):
    location_id: CiString(36)
    evse_uids: list[CiString(36)] | None = None


class AuthorizationInfo(OcpiModel):
    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString(36) | None = None
    info: DisplayText | None = None
