"""Locations module, Sender interface (CPO role): partners GET our published locations (locations.md 2).

Only published locations of our own active CPO parties are served. Unpublished locations (publish=false)
are never served to partners for now: matching publish_allowed_to against the partner's tokens is out of
scope. When the request carries OCPI-to-* headers that name one of our CPO parties, only that party's
locations are served.

The 2.2.1 list serves each location's stored JSON (locations/documents.py): a page is one query and a
concatenation. 2.1.1 and 2.3.0 build the page's objects from rows and convert them (locations/wire.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.exceptions import UnknownLocation
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.openapi import Many, Op
from ocpi_platform.ocpi.pagination import page_params, paginated_response
from ocpi_platform.ocpi.views import SENDER, OcpiView, ocpi_response
from ocpi_platform.ocpi.wire import INTERNAL_VERSION

from ..documents import location_documents_build
from ..models import EVSE, Location
from ..selectors import (
    location_children_rows,
    location_documents_published,
    location_get_published,
    location_rows_published,
    our_cpo_party_get,
)
from .serializers import connector_to_ocpi, evse_to_ocpi, location_rows_to_ocpi, location_to_ocpi


def _serialize_page(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Two more queries per page (EVSEs, connectors), whatever the page size."""
    evses, connectors = location_children_rows(location_ids=[row.id for row in rows])
    return location_rows_to_ocpi(rows, evses, connectors)


def _documents_page(rows: Sequence[Any]) -> list[orjson.Fragment]:
    """The page's stored 2.2.1 documents as they are (the renderer copies them into the envelope); a missing one,
    or one built from an older last_updated than the location's, is rebuilt now (two reads and a write).

    A location deleted since the page query is left out (as a page read a moment later would)."""
    stale = [row.id for row in rows if not row.fresh]  # fresh: NULL (None) without a document
    built = location_documents_build(stale) if stale else {}
    page = []
    for row in rows:
        body = row.document_body if row.fresh else built.get(row.id)
        if body is not None:
            page.append(orjson.Fragment(body))
    return page


_SERIALIZERS = "locations.api.serializers."  # OpenAPI: the views serialize through row functions


class _LocationSenderView(OcpiView):
    def addressed_party(self) -> PartyRef | None:
        """OCPI-to-* naming one of our CPO parties narrows the answer to it; anything else is ignored."""
        to_party = self.routing.to_party
        if to_party is None:
            return None
        party = our_cpo_party_get(country_code=to_party.country_code, party_id=to_party.party_id)
        return PartyRef.of(party.country_code, party.party_id) if party else None

    def location(self, location_id: str) -> Location:
        location = location_get_published(location_id=location_id, party=self.addressed_party())
        if location is None:
            raise UnknownLocation(f"Unknown location: {location_id}", http_status=404)
        return location

    def evse(self, location_id: str, evse_uid: str) -> EVSE:
        location = self.location(location_id)
        for evse in location.evses.all():  # prefetched
            if evse.uid.upper() == evse_uid.upper():
                return evse
        raise UnknownLocation(f"Unknown EVSE: {evse_uid} at location {location_id}", http_status=404)


class LocationSenderListView(_LocationSenderView):
    """GET {locations_endpoint_url}?date_from&date_to&offset&limit (paginated, transport.md 7)."""

    ocpi_endpoint = ("locations", SENDER)
    ocpi_operations = {
        "get": Op(
            "Our published Locations (CPO Sender)", data=Many(_SERIALIZERS + "LocationSerializer"), paginated=True
        )
    }

    def get(self, request: Request) -> Response:
        params = page_params(request)
        window = {"date_from": params.date_from, "date_to": params.date_to, "party": self.addressed_party()}
        if self.ocpi_version == INTERNAL_VERSION:  # 2.2.1: the stored documents, concatenated
            return paginated_response(request, location_documents_published(**window), _documents_page, params)
        # Other versions convert each object from 2.2.1 (locations/wire.py): built per page.
        return paginated_response(request, location_rows_published(**window), _serialize_page, params)


class LocationSenderObjectView(_LocationSenderView):
    ocpi_operations = {"get": Op("One of our published Locations", data=_SERIALIZERS + "LocationSerializer")}

    def get(self, request: Request, location_id: str) -> Response:
        return ocpi_response(location_to_ocpi(self.location(location_id)))


class EvseSenderObjectView(_LocationSenderView):
    ocpi_operations = {"get": Op("An EVSE of one of our published Locations", data=_SERIALIZERS + "EvseSerializer")}

    def get(self, request: Request, location_id: str, evse_uid: str) -> Response:
        return ocpi_response(evse_to_ocpi(self.evse(location_id, evse_uid)))


class ConnectorSenderObjectView(_LocationSenderView):
    ocpi_operations = {
        "get": Op("A Connector of one of our published Locations", data=_SERIALIZERS + "ConnectorSerializer")
    }

    def get(self, request: Request, location_id: str, evse_uid: str, connector_id: str) -> Response:
        evse = self.evse(location_id, evse_uid)
        for connector in evse.connectors.all():  # prefetched
            if connector.ocpi_id.upper() == connector_id.upper():
                return ocpi_response(connector_to_ocpi(connector))
        raise UnknownLocation(
            f"Unknown connector: {connector_id} at EVSE {evse_uid} of location {location_id}", http_status=404
        )
