"""Reads of parties and partners."""

from __future__ import annotations

import hmac

from django.db.models import QuerySet

from ocpi_platform.ocpi.tokens import token_hash

from .models import Partner, PartnerEndpoint, PartnerState, PartnerToken, Party


def party_list_active() -> QuerySet[Party]:
    return Party.objects.filter(active=True).order_by("role", "country_code", "party_id", "pk")


def partner_token_resolve(candidates: list[str]) -> tuple[Partner, str, str] | None:
    """OCPI auth hook: the partner whose issued token is one of `candidates` (base64-decoded, raw).

    One indexed query; the stored hash is compared again in constant time.
    """
    hashes = {token_hash(token): token for token in candidates}
    rows = PartnerToken.objects.select_related("partner").filter(token_hash__in=list(hashes))
    for row in rows:
        for digest, token in hashes.items():
            if hmac.compare_digest(row.token_hash, digest):
                if row.partner.state == PartnerState.UNREGISTERED:
                    return None
                return row.partner, row.kind, token
    return None


def partner_endpoint_url(*, partner: Partner, identifier: str, role: str) -> str | None:
    endpoint = PartnerEndpoint.objects.filter(partner=partner, identifier=identifier, role=role).first()
    return endpoint.url if endpoint else None


def partner_list_with_endpoint(*, identifier: str, role: str) -> QuerySet[Partner]:
    """Registered partners that expose this interface: whom a push of this module goes to."""
    return (
        Partner.objects.filter(state=PartnerState.REGISTERED, endpoints__identifier=identifier, endpoints__role=role)
        .distinct()
        .order_by("pk")
    )


# --- Which modules and roles a partner connects (admin: the seed's module/role table) -----------------

# The spec's typical interfaces per module and role (README "Modules"; OTHER is treated like an eMSP).
S, R, B = "Sender", "Receiver", "Both"
MODULE_ROLE_INTERFACES: dict[str, dict[str, str]] = {
    "credentials": {"CPO": B, "EMSP": B, "HUB": B, "NSP": B, "NAP": B, "SCSP": B, "OTHER": B},
    "hubclientinfo": {"CPO": R, "EMSP": R, "HUB": S, "NSP": R, "NAP": R, "SCSP": R, "OTHER": R},
    "locations": {"CPO": S, "EMSP": R, "HUB": B, "NSP": R, "NAP": B, "OTHER": R},
    "tariffs": {"CPO": S, "EMSP": R, "HUB": B, "NSP": R, "NAP": B, "OTHER": R},
    "sessions": {"CPO": S, "EMSP": R, "HUB": B, "SCSP": R, "OTHER": R},
    "cdrs": {"CPO": S, "EMSP": R, "HUB": B, "OTHER": R},
    "tokens": {"CPO": R, "EMSP": S, "HUB": B, "OTHER": S},
    "commands": {"CPO": R, "EMSP": S, "HUB": B, "OTHER": S},
    "chargingprofiles": {"CPO": R, "EMSP": S, "HUB": B, "SCSP": S, "OTHER": S},
}
_INTERFACES = {S: {"SENDER"}, R: {"RECEIVER"}, B: {"SENDER", "RECEIVER"}}


def _cell(interfaces: set[str]) -> str:
    if interfaces == {"SENDER", "RECEIVER"}:
        return B
    if interfaces == {"SENDER"}:
        return S
    if interfaces == {"RECEIVER"}:
        return R
    return ""


def partner_module_role_table(*, partner: Partner) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """Rows: modules; columns: the partner's roles; cells: Sender / Receiver / Both, i.e. the interfaces the
    partner offers for the module (its endpoints) that the role typically implements. Two queries."""
    roles = list(dict.fromkeys(partner.roles.order_by("role").values_list("role", flat=True)))
    offered: dict[str, set[str]] = {}
    for identifier, role in partner.endpoints.values_list("identifier", "role"):
        offered.setdefault(identifier, set()).add(role)
    rows = []
    for module, typical in MODULE_ROLE_INTERFACES.items():
        cells = [_cell(offered.get(module, set()) & _INTERFACES.get(typical.get(role, ""), set())) for role in roles]
        rows.append((module, cells))
    return roles, rows
