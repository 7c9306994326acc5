"""OCPI 2.3.0 Tokens module objects (mod_tokens.asciidoc 4-5): as 2.2.1 but TokenType, an OpenEnum with EMAID.

Our output must use the values of the 2.3.0 table, so the model lists them (an OpenEnum lets a receiver accept
others, which the converters' tests cover).
"""

from typing import Literal

from ..tokens import AllowedType, EnergyContract, ProfileType, WhitelistType
from ..tokens import LocationReferences as LocationReferences
from ..types import CiString, CountryCode, DateTime, DisplayText, Language, OcpiModel, PartyId, String

TokenType = Literal["AD_HOC_USER", "APP_USER", "EMAID", "OTHER", "RFID"]

__all__ = ["AllowedType", "AuthorizationInfo", "LocationReferences", "Token", "TokenType"]


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


class AuthorizationInfo(OcpiModel):
    allowed: AllowedType
    token: Token
    location: LocationReferences | None = None
    authorization_reference: CiString(36) | None = None
    info: DisplayText | None = None
