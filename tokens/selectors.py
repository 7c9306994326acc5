"""Reads of tokens: the OCPI key lookups, the Sender list and the real-time authorization lookups."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from ocpi_platform.ocpi.sql import model_columns, select_one
from partners.hubclientinfo import partner_for_party
from partners.models import Partner, PartnerRole, PartnerState, Party, Role
from partners.selectors import our_party_get

from .models import Token, TokenType


def token_get(
    *,
    country_code: str,
    party_id: str,
    uid: str,
    type: str = TokenType.RFID,
    for_update: bool = False,
) -> Token | None:
    """One token by its OCPI key (country_code, party_id, uid, type), case-insensitively (transport.md 12).

    `for_update` locks the row (inside a transaction) so concurrent pushes of the same token serialise.
    """
    queryset = Token.objects.for_party(country_code, party_id).filter(ocpi_id__iexact=uid, type=type)
    if for_update:
        # No join here: PostgreSQL refuses FOR UPDATE on the nullable side of an outer join.
        return queryset.select_for_update().first()
    return queryset.select_related("received_from").first()


def token_get_received(
    *,
    country_code: str,
    party_id: str,
    uid: str,
    type: str = TokenType.RFID,
) -> Token | None:
    """A token a partner eMSP pushed to our CPO (Receiver GET; the CPO-side whitelist lookup)."""
    return (
        Token.objects.received()
        .for_party(country_code, party_id)
        .filter(ocpi_id__iexact=uid, type=type)
        .select_related("received_from")
        .first()
    )


def token_list_published(*, date_from: datetime | None = None, date_to: datetime | None = None) -> QuerySet[Token]:
    """Our own eMSP tokens as served by the Tokens Sender GET list.

    Ordered by creation (pk), the spec's best practice (transport.md 7.3): an update does not move a token
    between pages while a CPO is paging.
    """
    return Token.objects.owned_by_us().changed_between(date_from, date_to).order_by("pk")


def token_get_for_authorization(
    *, uid: str, type: str = TokenType.RFID, country_code: str | None = None, party_id: str | None = None
) -> Token | None:
    """One of our own eMSP tokens for a real-time authorization (tokens.md 3.2): one indexed query.

    The URL carries no party; when the request is addressed to one (OCPI-to-* headers, transport.md 8) only
    that party's tokens count. The same rows as
    `Token.objects.owned_by_us().filter(ocpi_id__iexact=uid, type=type)[.for_party(cc, pid)].order_by("pk")`
    (tests compare the two), written as SQL because the driver waits: building that queryset cost more CPU
    than the rest of the request. Uses the (Upper(uid), type) index.
    """
    params: list[object] = [uid, type, Role.EMSP.value, True]
    sql = _AUTHORIZATION_LOOKUP_SQL
    if country_code and party_id:
        sql += " AND UPPER(t.country_code) = UPPER(%s) AND UPPER(t.party_id) = UPPER(%s)"
        params += [country_code, party_id]
    found = select_one(Token, sql + " ORDER BY t.id LIMIT 1", params)
    return found[0] if found else None


_AUTHORIZATION_LOOKUP_SQL = (
    f"SELECT {model_columns(Token, 't')} FROM {Token._meta.db_table} t "
    f"WHERE UPPER(t.ocpi_id) = UPPER(%s) AND t.type = %s AND t.received_from_id IS NULL "
    f"AND EXISTS (SELECT 1 FROM {Party._meta.db_table} p WHERE p.role = %s AND p.active = %s "
    f"AND p.country_code = UPPER(t.country_code) AND p.party_id = UPPER(t.party_id))"
)


def token_owner_partner(*, country_code: str, party_id: str) -> Partner | None:
    """The registered partner through which the eMSP party (country_code, party_id) owning a token is reached:
    whom our CPO asks for real-time authorization (tokens.md 6) and sends the Sessions and CDRs of its tokens.

    The partner that registered the party as EMSP; else a registered Hub reporting it as EMSP in ClientInfo;
    else the registered Hub that pushed us tokens of the party (a Hub relays for parties it never described in
    ClientInfo, README "Hubs"). None for our own parties, another role's party and unknown parties.
    """
    partner = partner_for_party(country_code=country_code, party_id=party_id, role=Role.EMSP)
    if (
        partner is not None
        or Party.objects.filter(country_code__iexact=country_code, party_id__iexact=party_id).exists()
    ):
        return partner
    if PartnerRole.objects.registered().for_party(country_code, party_id).exists():
        return None  # registered by a partner in another role: not an eMSP, whoever relayed its tokens
    relayed = (
        Token.objects.for_party(country_code, party_id)
        .filter(received_from__state=PartnerState.REGISTERED, received_from__roles__role=Role.HUB)
        .order_by("-last_updated", "pk")
        .values_list("received_from", flat=True)
        .first()
    )
    return Partner.objects.filter(pk=relayed).first() if relayed is not None else None


def token_party_is_our_emsp(*, country_code: str, party_id: str) -> bool:
    """Whether (country_code, party_id) is one of our own active eMSP parties (the owners of our tokens)."""
    return our_party_get(country_code=country_code, party_id=party_id, role=Role.EMSP) is not None


def our_cpo_party() -> Party | None:
    """The CPO party our real-time authorization requests come from (OCPI-from-* headers)."""
    return Party.objects.filter(role=Role.CPO, active=True).order_by("pk").first()
