"""Reads of Locations, EVSEs and Connectors (deterministic order, prefetching for the Sender)."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Party, Role
from partners.selectors import our_party_get

from .models import EVSE, Connector, Location
from .serializers import CONNECTOR_COLUMNS, EVSE_COLUMNS, LOCATION_COLUMNS


def party_is_ours(*, country_code: str, party_id: str) -> bool:
    """Whether (country_code, party_id) is one of our own active CPO parties."""
    return our_cpo_party_get(country_code=country_code, party_id=party_id) is not None


def our_cpo_party_get(*, country_code: str, party_id: str) -> Party | None:
    """One of our own active CPO parties (the owner of our locations), else None."""
    return our_party_get(country_code=country_code, party_id=party_id, role=Role.CPO)


def location_list_published(
    *, date_from: datetime | None = None, date_to: datetime | None = None, party: PartyRef | None = None
) -> QuerySet[Location]:
    """Our own published locations as served by the CPO Sender interface, in stable page order.

    Unpublished locations (publish=false) are never served to partners for now: matching the partner's
    tokens against publish_allowed_to is out of scope.
    """
    queryset = Location.objects.ours_published()
    if party is not None:
        queryset = queryset.for_party(party.country_code, party.party_id)
    return (
        queryset.changed_between(date_from, date_to)
        .prefetch_related("evses__connectors")
        .order_by("last_updated", "pk")
    )


class PublishedRows(Sequence):
    """The Sender list for the shared paginator: len() counts, a slice reads one page of named rows.

    A slice is a "deferred join": the page's ids come from an ordered id query (an index-only scan of the
    partial index location_published_page), then only those rows are read, so a deep offset does not read
    the thousands of wide rows it skips.
    """

    columns: tuple[str, ...] = LOCATION_COLUMNS

    def __init__(self, queryset: QuerySet[Location]) -> None:
        self._queryset = queryset.order_by("last_updated", "pk")
        self._total: int | None = None

    @property
    def ordered_queryset(self) -> QuerySet[Location]:
        """What the paginator counts, keys its cursor on and caches the total of."""
        return self._queryset

    def filter(self, *args: Any, **kwargs: Any) -> PublishedRows:
        """The same rows narrowed (the paginator's keyset condition: rows after the cursor)."""
        return type(self)(self._queryset.filter(*args, **kwargs))

    def __len__(self) -> int:
        if self._total is None:
            self._total = self._queryset.count()
        return self._total

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        page_ids = self._queryset.values("pk")[index]
        return list(
            Location.objects.filter(pk__in=page_ids)
            .order_by("last_updated", "pk")
            .values_list(*self.columns, named=True)
        )


class DocumentRow:
    """A row of PublishedDocuments. `last_updated` comes as the database's text and is parsed only when read
    (the paginator reads it on the page's last row for the cursor): parsing a timestamp per row cost about
    as much as the rest of a 1,000-row page."""

    __slots__ = ("_last_updated", "document_body", "fresh", "id")

    def __init__(self, id: int, last_updated: Any, document_body: str | None, fresh: bool | None) -> None:
        self.id, self._last_updated, self.document_body, self.fresh = id, last_updated, document_body, fresh

    @property
    def last_updated(self) -> datetime:
        value = self._last_updated
        if not isinstance(value, datetime):
            value = Location._meta.get_field("last_updated").to_python(value.replace(" ", "T", 1))
            if timezone.is_naive(value):  # SQLite stores UTC without an offset
                value = timezone.make_aware(value, UTC)
        return value


class PublishedDocuments(PublishedRows):
    """As PublishedRows, a page being DocumentRows (id, last_updated, document_body: the stored 2.2.1 JSON or
    None, fresh: whether it was built from the location's current last_updated): the same page query with the
    document table joined, the freshness compared by the database."""

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, slice):
            return self[index : index + 1][0]
        page_ids = self._queryset.values("pk")[index]
        rows = (
            Location.objects.filter(pk__in=page_ids)
            .annotate(
                last_updated_text=Cast("last_updated", TextField()),
                document_body=F("document__body"),
                fresh=ExpressionWrapper(Q(document__source_last_updated=F("last_updated")), BooleanField()),
            )
            .order_by("last_updated", "pk")
            .values_list("id", "last_updated_text", "document_body", "fresh")
        )
        return [DocumentRow(*row) for row in rows]


def location_rows_published(
    *, date_from: datetime | None = None, date_to: datetime | None = None, party: PartyRef | None = None
) -> PublishedRows:
    """The Sender list as named rows (LOCATION_COLUMNS), same filter and order as location_list_published."""
    queryset = Location.objects.ours_published()
    if party is not None:
        queryset = queryset.for_party(party.country_code, party.party_id)
    return PublishedRows(queryset.changed_between(date_from, date_to))


def location_documents_published(
    *, date_from: datetime | None = None, date_to: datetime | None = None, party: PartyRef | None = None
) -> PublishedDocuments:
    """The Sender list as document rows (PublishedDocuments), same filter and order as location_rows_published."""
    return PublishedDocuments(
        location_rows_published(date_from=date_from, date_to=date_to, party=party).ordered_queryset
    )


EvseRow = namedtuple("EvseRow", EVSE_COLUMNS)  # type: ignore[misc]  # fields: the one column list
ConnectorRow = namedtuple("ConnectorRow", CONNECTOR_COLUMNS)  # type: ignore[misc]
_CONNECTOR_JOINED = tuple(f"connectors__{name}" for name in CONNECTOR_COLUMNS if name != "evse_id")


def location_children_rows(*, location_ids: list[int]) -> tuple[list[EvseRow], list[ConnectorRow]]:
    """EVSE and connector rows (EVSE_/CONNECTOR_COLUMNS) of a page of locations, in page order.

    One query (EVSE LEFT JOIN connector) whatever the page size: round trips dominate the Sender's cost.
    """
    if not location_ids:
        return [], []
    rows = (
        EVSE.objects.filter(location_id__in=location_ids)
        .order_by("location_id", "id", "connectors__id")
        .values_list(*EVSE_COLUMNS, *_CONNECTOR_JOINED)
    )
    width = len(EVSE_COLUMNS)
    evses: list[EvseRow] = []
    connectors: list[ConnectorRow] = []
    last_id = None
    for row in rows:
        if row[0] != last_id:
            last_id = row[0]
            evses.append(EvseRow._make(row[:width]))
        if row[width] is not None:  # an EVSE without connectors (not valid OCPI, but possible while editing)
            connectors.append(ConnectorRow._make((last_id, *row[width:])))
    return evses, connectors


def location_get_published(*, location_id: str, party: PartyRef | None = None) -> Location | None:
    """One of our published locations by its OCPI id (case-insensitive), with EVSEs and connectors."""
    queryset = Location.objects.ours_published().filter(ocpi_id__iexact=location_id)
    if party is not None:
        queryset = queryset.for_party(party.country_code, party.party_id)
    return queryset.prefetch_related("evses__connectors").order_by("pk").first()


def location_get(*, country_code: str, party_id: str, location_id: str) -> Location | None:
    """Any owner's location by its full OCPI key (eMSP Receiver, admin, seed data)."""
    return (
        Location.objects.for_party(country_code, party_id)
        .filter(ocpi_id__iexact=location_id)
        .prefetch_related("evses__connectors")
        .first()
    )


def evse_get(*, location: Location, evse_uid: str) -> EVSE | None:
    return location.evses.filter(uid__iexact=evse_uid).prefetch_related("connectors").first()


def connector_get(*, evse: EVSE, connector_id: str) -> Connector | None:
    return evse.connectors.filter(ocpi_id__iexact=connector_id).first()


def evse_list_for_location(*, location: Location) -> QuerySet[EVSE]:
    return location.evses.prefetch_related("connectors").order_by("pk")
