"""Reads of charging sessions (deterministic order for the Sender list)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import QuerySet

from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Partner

from .gateway import GatewayEventError
from .models import ChargingSession

if TYPE_CHECKING:
    from locations.models import EVSE, Connector


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


# --- the charge point a session or command is about (locations, tariffs through their selectors) -------------


def evse_at(*, country_code: str, party_id: str, location_id: str, evse_uid: str) -> EVSE | None:
    """The EVSE `evse_uid` of a party's location, None when unknown or not given."""
    from locations.selectors import evse_get, location_get

    if not evse_uid:
        return None
    location = location_get(country_code=country_code, party_id=party_id, location_id=location_id)
    return evse_get(location=location, evse_uid=evse_uid) if location else None


def connector_for(evse: EVSE, connector_id: str | None) -> Connector:
    """The EVSE's connector `connector_id`, or its first connector when none is named."""
    from locations.selectors import connector_get

    if connector_id:
        connector = connector_get(evse=evse, connector_id=connector_id)
    else:
        connector = evse.connectors.order_by("pk").first()
    if connector is None:
        raise GatewayEventError(f"EVSE {evse.uid} has no connector {connector_id or ''}".strip())
    return connector


def evse_tariffs(evse: EVSE, connector: Connector) -> list[dict[str, Any]]:
    """The connector's tariffs (tariff_ids), as OCPI Tariff objects."""
    from tariffs.selectors import tariff_list_by_ids
    from tariffs.serializers import tariff_to_ocpi

    return [
        tariff_to_ocpi(t)
        for t in tariff_list_by_ids(
            country_code=evse.country_code, party_id=evse.party_id, ocpi_ids=connector.tariff_ids or []
        )
    ]


def evse_currency(evse: EVSE, connector: Connector) -> str:
    """The currency of a session on this connector: its first tariff's, else OCPI_DEFAULT_CURRENCY."""
    tariffs = evse_tariffs(evse, connector)
    if tariffs:
        return tariffs[0]["currency"]
    return getattr(settings, "OCPI_DEFAULT_CURRENCY", "EUR")
