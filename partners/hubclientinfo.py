"""HubClientInfo (hubclientinfo.md) and the parties behind a Hub partner: selectors and services.

A partner whose role is HUB stands for many parties. The Hub reports each of them with a ClientInfo (PUT on our
Receiver, or its Sender list we pull); we use them to
* know the status of a party behind the Hub (a Hub may also relay for parties it never reported: their status
  is unknown and treated as connected; Partner.holds_party and Partner.hub_party_taken, partners.hub_routing);
* find the partner through which a party is reached (partner_for_party: a token's eMSP behind a Hub);
* hold pushes to a party the Hub reports as not CONNECTED (partner_client raises PartyNotConnected, the outbox
  keeps the delivery waiting) and release them when the party is CONNECTED again (client_info_store).

The Hub's Sender list is pulled by partners.hub_pull.client_info_pull.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from ocpi_platform.dispatch import enqueue_on_commit
from ocpi_platform.ocpi.client import OcpiTransientError
from ocpi_platform.ocpi.headers import PartyRef

from .models import ClientInfo, ConnectionStatus, Partner, PartnerRole, PartnerState, Party, Role

logger = logging.getLogger(__name__)

MODULE = "hubclientinfo"


class PartyNotConnected(OcpiTransientError):
    """The Hub reports the addressed party as OFFLINE, PLANNED or SUSPENDED: nothing is sent to it now.

    A transient error for every caller (commands, authorization, pulls retry or give up as for a timeout); the
    outbox catches it first and keeps the delivery waiting until the party is CONNECTED again.
    """

    def __init__(self, *, partner_id: int, party: PartyRef, status: str) -> None:
        self.partner_id = partner_id
        self.party = party
        self.status = status
        super().__init__(f"Party {party} is {status} at hub partner {partner_id}: not sent")


# --- Selectors ------------------------------------------------------------------------------------


def partner_is_hub(partner: Partner) -> bool:
    """The partner registered a HUB role (credentials.md: a Hub reports only itself, with role HUB)."""
    return partner.roles.filter(role=Role.HUB).exists()


def client_info_list(*, hub: Partner | None = None) -> QuerySet[ClientInfo]:
    queryset = ClientInfo.objects.select_related("partner")
    if hub is not None:
        queryset = queryset.filter(partner=hub)
    return queryset.order_by("partner_id", "country_code", "party_id", "role", "pk")


def client_info_get(*, hub: Partner, country_code: str, party_id: str) -> ClientInfo | None:
    """The ClientInfo of one party at one Hub; a party listed in several roles: the most recently updated."""
    return (
        ClientInfo.objects.filter(partner=hub, country_code=country_code.upper(), party_id=party_id.upper())
        .order_by("-last_updated", "-pk")
        .first()
    )


def hub_party_status(*, partner: Partner | int, party: PartyRef) -> str | None:
    """The connection status the (Hub) partner reports for `party`; None when it reports nothing about it.

    One indexed query. A party listed in several roles counts as CONNECTED when any of them is.
    """
    partner_id = partner.pk if isinstance(partner, Partner) else partner
    statuses = set(
        ClientInfo.objects.filter(
            partner_id=partner_id, country_code=party.country_code.upper(), party_id=party.party_id.upper()
        ).values_list("status", flat=True)
    )
    if not statuses:
        return None
    if ConnectionStatus.CONNECTED in statuses:
        return ConnectionStatus.CONNECTED
    return sorted(statuses)[0]


def hub_party_check(*, partner: Partner, party: PartyRef | None) -> None:
    """Raise PartyNotConnected when `partner` is a Hub reporting `party` as not CONNECTED (hubclientinfo.md 1)."""
    if party is None:
        return
    # Within an outbox drain (partners/outbox/drain.py) a reachable party is read once per drain, as the endpoint
    # URL and the party are: one that disconnects meanwhile is found by the next drain, seconds later at most. A
    # party that is not CONNECTED is read again at every send (its rows wait; a wake-up must be seen at once).
    memo = getattr(partner, "_drain_memo", None)
    key = ("hub-party-status", party.country_code.upper(), party.party_id.upper())
    if memo is not None and key in memo:
        return
    status = hub_party_status(partner=partner, party=party)
    if memo is not None and status in (None, ConnectionStatus.CONNECTED):
        memo[key] = status
    if status is not None and status != ConnectionStatus.CONNECTED:
        raise PartyNotConnected(partner_id=partner.pk, party=party, status=status)


def partner_for_party(*, country_code: str, party_id: str, role: str | None = None) -> Partner | None:
    """The registered partner through which the party (country_code, party_id) is reached.

    A partner that registered the party itself wins; else a registered Hub that reports it in ClientInfo
    (whatever its status: the outbox holds pushes to a party that is not CONNECTED). Never for a party of ours.
    """
    cc, pid = country_code.upper(), party_id.upper()
    roles = PartnerRole.objects.select_related("partner").filter(
        country_code__iexact=cc, party_id__iexact=pid, partner__state=PartnerState.REGISTERED
    )
    if role:
        roles = roles.filter(role=role)
    direct = roles.order_by("pk").first()
    if direct is not None:
        return direct.partner
    if Party.objects.filter(country_code=cc, party_id=pid).exists():
        return None
    infos = ClientInfo.objects.filter(
        country_code=cc,
        party_id=pid,
        partner__state=PartnerState.REGISTERED,
        partner__roles__role=Role.HUB,
    )
    if role:
        infos = infos.filter(role=role)
    info = infos.select_related("partner").order_by("-last_updated", "pk").first()
    return info.partner if info is not None else None


def partner_party_refs(*, partner: Partner) -> list[PartyRef]:
    """Every party the partner registered, plus (a Hub) every party it reports, in a stable order, no repeats."""
    registered = PartnerRole.objects.filter(partner=partner).order_by("pk")
    refs = [PartyRef.of(cc, pid) for cc, pid in registered.values_list("country_code", "party_id")]
    if partner_is_hub(partner):
        ours = set(Party.objects.values_list("country_code", "party_id"))
        refs += [
            PartyRef.of(cc, pid)
            for cc, pid in ClientInfo.objects.filter(partner=partner)
            .order_by("pk")
            .values_list("country_code", "party_id")
            if (cc, pid) not in ours
        ]
    return list(dict.fromkeys(refs))


# --- Services -------------------------------------------------------------------------------------


class NotAHubError(Exception):
    """Only a partner whose role is HUB may report ClientInfo."""


@dataclass(frozen=True)
class ClientInfoStored:
    obj: ClientInfo
    created: bool
    stale: bool = False
    reconnected: bool = False


def client_info_store(*, hub: Partner, data: dict[str, Any]) -> ClientInfoStored:
    """Store a ClientInfo the Hub PUT (or we pulled): upsert per (hub, party, role), ordered by last_updated.

    `data`: ClientInfoSerializer.validated_data (country_code, party_id, role, status, last_updated). An older
    last_updated than stored is ignored. When the party becomes CONNECTED, the deliveries that waited for it are
    released after commit by a task (partners.tasks.outbox_wake_party).
    """
    if not partner_is_hub(hub):
        raise NotAHubError(f"Partner {hub} is not a Hub")
    cc, pid = data["country_code"].upper(), data["party_id"].upper()
    last_updated: datetime = data["last_updated"]
    with transaction.atomic():
        before = hub_party_status(partner=hub, party=PartyRef.of(cc, pid))
        info = (
            ClientInfo.objects.select_for_update()
            .filter(partner=hub, country_code=cc, party_id=pid, role=data["role"])
            .first()
        )
        created = info is None
        if info is not None and info.last_updated > last_updated:
            logger.info("Ignored stale ClientInfo %s from hub %s (%s)", info, hub.pk, last_updated)
            return ClientInfoStored(obj=info, created=False, stale=True)
        if info is None:
            info = ClientInfo(partner=hub, country_code=cc, party_id=pid, role=data["role"])
        info.status = data["status"]
        info.last_updated = last_updated
        info.save()
        after = hub_party_status(partner=hub, party=PartyRef.of(cc, pid))
        reconnected = after == ConnectionStatus.CONNECTED and before != ConnectionStatus.CONNECTED
        if reconnected:
            hub_id = hub.pk
            enqueue_on_commit(
                "partners.tasks.outbox_wake_party", partner_id=hub_id, country_code=cc, party_id=pid, robust=True
            )
    logger.info("Hub %s reports %s %s/%s %s", hub.pk, info.role, cc, pid, info.status)
    return ClientInfoStored(obj=info, created=created, reconnected=reconnected)


__all__ = [
    "ClientInfoStored",
    "NotAHubError",
    "PartyNotConnected",
    "client_info_get",
    "client_info_list",
    "client_info_store",
    "hub_party_check",
    "hub_party_status",
    "partner_for_party",
    "partner_is_hub",
    "partner_party_refs",
]
