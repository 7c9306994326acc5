"""Reads of parties and partners."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS
from django.db.models import QuerySet

from ocpi_platform.ocpi.sql import model_columns, select_one
from ocpi_platform.ocpi.tokens import token_hash

from .caches import CachedCredentials, credentials_cache
from .models import Partner, PartnerEndpoint, PartnerRole, PartnerState, PartnerToken, Party, Role, TokenKind


def party_list_active() -> QuerySet[Party]:
    return Party.objects.filter(active=True).order_by("role", "country_code", "party_id", "pk")


def our_party_get(*, country_code: str, party_id: str, role: str | None = None) -> Party | None:
    """One of our own active parties (in `role` when given) by its codes, case-insensitively; else None."""
    queryset = Party.objects.filter(active=True, country_code__iexact=country_code, party_id__iexact=party_id)
    if role is not None:
        queryset = queryset.filter(role=role)
    return queryset.order_by("role", "pk").first()


def partner_token_resolve(candidates: list[str]) -> tuple[Partner, str, str] | None:
    """OCPI auth hook: the partner whose issued token is one of `candidates` (base64-decoded, raw).

    Runs on every OCPI request, so it is one indexed query written as SQL (building it with the ORM cost more
    CPU than everything else a real-time authorization does), and its answer is kept for
    OCPI_CREDENTIALS_CACHE_SECONDS in this process (partners/caches.py; no query then). The stored hash is
    compared again in constant time. The partner comes with `ocpi_is_hub` (has it a HUB role?), which spares the
    hub routing check a query for every partner that is not a hub, and `ocpi_has_cpo_role` (has it a CPO role?),
    which spares the Tokens Sender its role check (`partner_serves_cpo`). It is a new instance on every call,
    cached or not: the request may set attributes on it.
    """
    hashes = {token_hash(token): token for token in candidates}
    if not hashes:
        return None
    seconds = settings.OCPI_CREDENTIALS_CACHE_SECONDS
    generation = 0
    if seconds > 0:
        for digest, token in hashes.items():
            cached = credentials_cache.get(digest)
            if cached is not None:
                return _credentials_partner(cached), cached.kind, token
        generation = credentials_cache.generation()  # before the read: an invalidation meanwhile drops its answer
    sql = _TOKEN_RESOLVE_SQL.format(in_list=", ".join(["%s"] * len(hashes)))
    found = select_one(Partner, sql, [Role.HUB.value, Role.CPO.value, *hashes], extra=4)
    if found is None:
        return None
    partner, (kind, stored_hash, is_hub, has_cpo_role) = found
    for digest, token in hashes.items():
        if hmac.compare_digest(stored_hash, digest):
            if partner.state == PartnerState.UNREGISTERED:
                return None
            partner.ocpi_is_hub = bool(is_hub)
            partner.ocpi_has_cpo_role = bool(has_cpo_role)
            # Only a connected partner's current token is kept: a handshake under way changes the partner's state
            # and its token's kind in whichever process handles it, and another process must see that at once (a
            # kept PENDING token of a REGISTERING partner rejected its first pushes for the cache's lifetime).
            if seconds > 0 and partner.state == PartnerState.REGISTERED and kind == TokenKind.CURRENT:
                values = tuple(getattr(partner, field.attname) for field in Partner._meta.concrete_fields)
                entry = CachedCredentials(values, kind, partner.ocpi_is_hub, partner.ocpi_has_cpo_role)
                credentials_cache.put(digest, entry, ttl=seconds, generation=generation)
            return partner, kind, token
    return None


def _credentials_partner(cached: CachedCredentials) -> Partner:
    """A Partner instance of its own for this request, from the cached values (as select_one builds one)."""
    partner = Partner.from_db(DEFAULT_DB_ALIAS, None, list(cached.partner_values))  # type: ignore[arg-type]  # every field loaded: names unused
    partner.ocpi_is_hub = cached.is_hub
    partner.ocpi_has_cpo_role = cached.has_cpo_role
    return partner


# Token hashes are unique, so at most one row matches.
_TOKEN_RESOLVE_SQL = (
    f"SELECT {model_columns(Partner, 'p')}, t.kind, t.token_hash, "
    f"EXISTS (SELECT 1 FROM {PartnerRole._meta.db_table} r WHERE r.partner_id = p.id AND r.role = %s), "
    f"EXISTS (SELECT 1 FROM {PartnerRole._meta.db_table} r WHERE r.partner_id = p.id AND r.role = %s) "
    f"FROM {Partner._meta.db_table} p JOIN {PartnerToken._meta.db_table} t ON t.partner_id = p.id "
    f"WHERE t.token_hash IN ({{in_list}})"
)


def partner_serves_cpo(*, partner: Partner) -> bool:
    """Whether the partner registered a CPO role, or is a Hub (which relays for the CPOs behind it).

    The callers of a CPO-facing interface (our eMSP's Tokens Sender: token list, real-time authorization).
    No query for a partner resolved from its credentials token (`partner_token_resolve` tells both).
    """
    has_cpo_role = getattr(partner, "ocpi_has_cpo_role", None)
    is_hub = getattr(partner, "ocpi_is_hub", None)
    if has_cpo_role is None or is_hub is None:
        return partner.roles.filter(role__in=(Role.CPO, Role.HUB)).exists()
    return has_cpo_role or is_hub


def partner_endpoint_url(*, partner: Partner, identifier: str, role: str) -> str | None:
    """The URL of one of the partner's interfaces. Within an outbox drain (partners/outbox/drain.py) it is read
    once per drain: the drain's Partner instance carries a memo for its few seconds."""
    memo = getattr(partner, "_drain_memo", None)
    key = ("endpoint", identifier, role)
    if memo is not None and key in memo:
        return memo[key]
    endpoint = PartnerEndpoint.objects.filter(partner=partner, identifier=identifier, role=role).first()
    url = endpoint.url if endpoint else None
    if memo is not None:
        memo[key] = url
    return url


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
