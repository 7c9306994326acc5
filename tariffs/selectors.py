"""Reads of tariffs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet

from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Role
from partners.selectors import our_party_get

from .models import Tariff, TariffElement


def _with_elements(queryset: QuerySet[Tariff]) -> QuerySet[Tariff]:
    return queryset.prefetch_related(Prefetch("elements", queryset=TariffElement.objects.order_by("position", "pk")))


def party_is_our_cpo(*, country_code: str, party_id: str) -> bool:
    """Whether (country_code, party_id) is one of our own active CPO parties."""
    return our_party_get(country_code=country_code, party_id=party_id, role=Role.CPO) is not None


def tariff_is_ours(*, tariff: Tariff) -> bool:
    return party_is_our_cpo(country_code=tariff.country_code, party_id=tariff.party_id)


def tariff_list_published(
    *, date_from: datetime | None = None, date_to: datetime | None = None, party: PartyRef | None = None
) -> QuerySet[Tariff]:
    """Our own CPO parties' live tariffs as served by the Sender interface, in creation (page) order.

    Creation order (transport.md 7.3): an update does not move a tariff between pages.
    """
    queryset = Tariff.objects.owned_by_us().live().changed_between(date_from, date_to)
    if party is not None:
        queryset = queryset.for_party(party.country_code, party.party_id)
    return _with_elements(queryset).order_by("pk")


def tariff_get(*, pk: int) -> Tariff | None:
    """One tariff by primary key with its elements, deleted ones included (the outbox needs tombstones)."""
    return _with_elements(Tariff.objects.filter(pk=pk)).first()


def tariff_get_by_key(
    *, country_code: str, party_id: str, ocpi_id: str, include_deleted: bool = False
) -> Tariff | None:
    """One tariff by its OCPI key (case-insensitive), with its elements."""
    queryset = Tariff.objects.filter(
        country_code__iexact=country_code, party_id__iexact=party_id, ocpi_id__iexact=ocpi_id
    )
    if not include_deleted:
        queryset = queryset.live()
    return _with_elements(queryset).first()


def tariff_list_by_ids(*, country_code: str, party_id: str, ocpi_ids: Iterable[str]) -> QuerySet[Tariff]:
    """A party's live tariffs among `ocpi_ids` (e.g. a connector's tariff_ids), case-insensitive, with elements."""
    condition = Q()
    for ocpi_id in ocpi_ids:
        condition |= Q(ocpi_id__iexact=ocpi_id)
    if not condition:
        return Tariff.objects.none()
    queryset = Tariff.objects.live().for_party(country_code, party_id).filter(condition)
    return _with_elements(queryset).order_by("pk")
