"""Credentials module objects (credentials.md 2): Credentials and CredentialsRole."""

from .locations import BusinessDetails
from .types import URL, CountryCode, Matching, NonEmpty, OcpiModel, PartyId, Role

# string(64), printable non-whitespace ASCII only (U+0021..U+007E).
CredentialsToken = Matching(64, r"^[\x21-\x7E]+$")


class CredentialsRole(OcpiModel):
    role: Role
    business_details: BusinessDetails
    party_id: PartyId
    country_code: CountryCode


class Credentials(OcpiModel):
    token: CredentialsToken
    url: URL
    roles: NonEmpty(CredentialsRole)
