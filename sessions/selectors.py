"""Reads of charging sessions (deterministic order for the Sender list)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Partner

from .models import ChargingSession


def session_list_for_partner(
    *, partner: Partner, date_from: datetime | None = None, date_to: datetime | None = None
) -> QuerySet[ChargingSession]:
    """CPO Sender GET list (sessions.md 2.1): our sessions whose token belongs to the calling partner.

    One query per page (plus the count): the rows carry the nested objects as JSON, nothing is prefetched.
    """
    return (
        ChargingSession.objects.owned_by_us()
        .for_token_owner(partner)
        .changed_between(date_from, date_to)
        .order_by("last_updated", "pk")
    )


def session_get_for_partner(
    *, partner: Partner, session_id: str, party: PartyRef | None = None
) -> ChargingSession | None:
    """One of our sessions by its OCPI id (case-insensitive), only if its token belongs to `partner`.

    The Sender URL has no country_code/party_id: when we host several CPO parties, `party` (the request's
    OCPI-to-* routing headers) picks the right one; otherwise the oldest match wins.
    """
    queryset = ChargingSession.objects.owned_by_us().for_token_owner(partner).filter(ocpi_id__iexact=session_id)
    if party is not None:
        queryset = queryset.for_party(party.country_code, party.party_id)
    return queryset.order_by("pk").first()


def session_get_ours(*, session_id: str, party: PartyRef | None = None) -> ChargingSession | None:
    """One of our own sessions by its OCPI id, whatever its token (an SCSP manages our CPO's charging)."""
    queryset = ChargingSession.objects.owned_by_us().filter(ocpi_id__iexact=session_id)
    if party is not None:
        queryset = queryset.for_party(party.country_code, party.party_id)
    return queryset.order_by("pk").first()


def session_get(
    *, country_code: str, party_id: str, session_id: str, for_update: bool = False
) -> ChargingSession | None:
    """Any owner's session by its full OCPI key (eMSP Receiver, admin, other apps)."""
    queryset = ChargingSession.objects.for_party(country_code, party_id).filter(ocpi_id__iexact=session_id)
    if for_update:
        queryset = queryset.select_for_update()
    return queryset.first()


def session_get_active_on_evse(*, country_code: str, party_id: str, evse_uid: str) -> ChargingSession | None:
    """The newest unfinished session of one of our parties on an EVSE (commands, OCPP)."""
    return (
        ChargingSession.objects.for_party(country_code, party_id)
        .filter(evse_uid__iexact=evse_uid, received_from__isnull=True)
        .active()
        .order_by("-start_date_time", "-pk")
        .first()
    )


def session_list_received(*, partner: Partner | None = None) -> QuerySet[ChargingSession]:
    """Sessions partner CPOs pushed to our eMSP (all partners, or one)."""
    queryset = ChargingSession.objects.received()
    if partner is not None:
        queryset = queryset.filter(received_from=partner)
    return queryset.order_by("last_updated", "pk")
