"""Reads of CDRs (deterministic order; the Sender's page needs no query per row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Partner, PartnerRole, Role
from tokens.selectors import token_owner_partner

from .models import Cdr


def cdr_get(*, pk: int) -> Cdr | None:
    return Cdr.objects.filter(pk=pk).first()


def cdr_get_by_key(*, country_code: str, party_id: str, ocpi_id: str) -> Cdr | None:
    """One CDR by its OCPI key (case-insensitive)."""
    return Cdr.objects.filter(
        country_code__iexact=country_code, party_id__iexact=party_id, ocpi_id__iexact=ocpi_id
    ).first()


def cdr_get_received(*, partner: Partner, pk: int) -> Cdr | None:
    """A CDR the partner POSTed to our eMSP Receiver (None for anybody else's)."""
    return Cdr.objects.filter(pk=pk, received_from=partner).first()


def cdr_get_live_for_session(*, session: Any) -> Cdr | None:
    """The session's CDR that is neither a credit CDR nor credited (at most one, by constraint)."""
    return (
        Cdr.objects.filter(charging_session_id=session.pk, credited_at__isnull=True)
        .filter(Q(credit__isnull=True) | Q(credit=False))
        .order_by("pk")
        .first()
    )


def partner_parties(*, partner: Partner) -> list[PartyRef]:
    """The parties whose tokens are the partner's: the ones it registered as EMSP (a Hub: and the parties it
    reports). Like pushes (token_owner_partner_get), only the EMSP role owns tokens: the same country_code/party_id
    held in another role (a row predating the one-partner-per-party check) gives no access to the eMSP's CDRs."""
    from partners.hubclientinfo import partner_party_refs

    registered = PartnerRole.objects.filter(partner=partner).values_list("role", "country_code", "party_id")
    emsp = {PartyRef.of(cc, pid) for role, cc, pid in registered if role == Role.EMSP}
    other_roles = {PartyRef.of(cc, pid) for role, cc, pid in registered if role != Role.EMSP} - emsp
    return [ref for ref in partner_party_refs(partner=partner) if ref not in other_roles]


def cdr_list_for_partner(
    *,
    partner: Partner,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    party: PartyRef | None = None,
) -> QuerySet[Cdr]:
    """The CDRs our CPO issued for tokens of the partner's parties (cdrs.md 2: "only CDRs relevant to the
    requesting eMSP"), oldest first so new CDRs only ever appear at the end (transport.md 7.3).

    `party`: only the CDRs of that CPO party of ours (a request addressed to it with OCPI-to-*).
    """
    parties = partner_parties(partner=partner)
    if not parties:
        return Cdr.objects.none()
    tokens_of_partner = Q()
    for ref in parties:
        tokens_of_partner |= Q(token_country_code=ref.country_code, token_party_id=ref.party_id)
    queryset = Cdr.objects.issued().filter(tokens_of_partner).changed_between(date_from, date_to)
    if party is not None:
        queryset = queryset.for_party(party.country_code, party.party_id)
    return queryset.order_by("last_updated", "pk")


def token_owner_partner_get(*, country_code: str, party_id: str) -> Partner | None:
    """The registered partner of the token's eMSP party (None: unknown, or one of our own eMSP parties)."""
    return token_owner_partner(country_code=country_code, party_id=party_id)
