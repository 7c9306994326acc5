"""Outbox push of the Locations module (CPO role): who receives our locations and how they are sent.

Registered with partners.outbox in LocationsConfig.ready(). The push reads the location's current state at
send time (so a retry sends the newest state), decides PUT vs PATCH from the partner's sync row, and raises
the client's OcpiTransientError / OcpiPermanentError for the outbox to handle.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

import orjson

from ocpi_platform.ocpi.client import OcpiClient, OcpiPermanentError, join_url
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.sql import model_columns, select_one
from ocpi_platform.ocpi.views import RECEIVER
from ocpi_platform.ocpi.wire import V221, WireContext
from partners.client import partner_client, partner_version
from partners.models import OutboxSync, Partner
from partners.outbox import CPO_DATA_RECEIVER_ROLES, PushResult, partner_party
from partners.selectors import partner_endpoint_url, partner_list_with_endpoint

from .api.serializers import connector_to_ocpi, evse_to_ocpi, location_to_ocpi
from .models import Location, LocationDocument
from .wire import NEW_IN_230

logger = logging.getLogger(__name__)


def _client(partner: Partner, country_code: str, party_id: str) -> OcpiClient:
    return partner_client(
        partner,
        from_party=PartyRef.of(country_code, party_id),
        to_party=partner_party(partner, CPO_DATA_RECEIVER_ROLES),
    )


def _receives(partner: Partner, identifier: str) -> bool:
    """The partner is in the audience of a module whose audience is "every Receiver of it"."""
    return partner_list_with_endpoint(identifier=identifier, role=RECEIVER).filter(pk=partner.pk).exists()


def locations_audience(object_id: int) -> Any:
    return partner_list_with_endpoint(identifier="locations", role=RECEIVER)


def locations_snapshot(partner: Partner) -> Any:
    """Initial sync: our own parties' published locations (unpublished ones are never sent, see location_push)."""

    if not _receives(partner, "locations"):
        return None
    return Location.objects.ours_published().values_list("pk", flat=True)


# What location_push reads of the Location when the stored document (LocationDocument) can be sent.
_PUSH_FIELDS = ("id", "country_code", "party_id", "ocpi_id", "publish", "last_updated")
_DOCUMENT_FIELDS = (LocationDocument._meta.get_field("body"), LocationDocument._meta.get_field("source_last_updated"))


@cache
def _document_sql() -> str:
    """The location's pushed columns and its stored document (NULLs when it has none), by the location's id. Hot
    SQL (ocpi_platform/ocpi/sql.py): the ORM's query building was 40 % of the drain's CPU per request."""
    document = LocationDocument._meta
    location_fk = document.get_field("location").column
    return (
        f'SELECT {model_columns(Location, "l", _PUSH_FIELDS)}, d."{_DOCUMENT_FIELDS[0].column}", '
        f'd."{_DOCUMENT_FIELDS[1].column}" FROM "{Location._meta.db_table}" l '
        f'LEFT JOIN "{document.db_table}" d ON d."{location_fk}" = l."{Location._meta.pk.column}" '
        f'WHERE l."{Location._meta.pk.column}" = %s'
    )


class _Source:
    """The bodies of one location's push: its stored 2.2.1 Sender document (locations/documents.py) when that is
    current and the partner speaks 2.2.1, else built from its rows (the document is the same JSON, byte for byte:
    tested). A document body is already in 2.2.1 wire shape."""

    def __init__(self, location: Location, document: str | None) -> None:
        self.location = location
        self.document = document
        self._parsed: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = orjson.loads(self.document) if self.document is not None else location_to_ocpi(self.location)
        return self._parsed

    def location_body(self) -> tuple[Any, str | None]:
        """(body, kind) of a whole-location PUT: the stored text as it is (no parse, no conversion), or the built
        object for the client to convert."""
        if self.document is not None:
            return orjson.Fragment(self.document), None
        return location_to_ocpi(self.location), "Location"

    def location_object(self) -> dict[str, Any]:
        return self._data()

    def evse(self, uid: str) -> tuple[Any, dict[str, Any]] | None:
        """(handle, OCPI object) of the EVSE `uid` (case-insensitive), None when the location has none."""
        wanted = uid.upper()
        if self.document is None:
            evse = next((e for e in self.location.evses.all() if e.uid.upper() == wanted), None)
            return None if evse is None else (evse, evse_to_ocpi(evse))
        found = next((e for e in self._data().get("evses") or [] if e["uid"].upper() == wanted), None)
        return None if found is None else (found, found)

    def connector(self, evse: Any, connector_id: str) -> tuple[str, dict[str, Any]] | None:
        """(id, OCPI object) of the EVSE's connector `connector_id` (case-insensitive)."""
        wanted = connector_id.upper()
        if self.document is None:
            connector = next((c for c in evse.connectors.all() if c.ocpi_id.upper() == wanted), None)
            return None if connector is None else (connector.ocpi_id, connector_to_ocpi(connector))
        found = next((c for c in evse.get("connectors") or [] if c["id"].upper() == wanted), None)
        return None if found is None else (found["id"], found)


def _source(partner: Partner, object_id: int, hint: dict[str, Any]) -> _Source | None:
    """The location to push (None: it no longer exists) with its stored document when that can be sent: the
    partner speaks 2.2.1 (the document's shape), the hint names no field 2.2.1 lacks (the rows then decide, as
    ever, between PATCH and PUT) and the document is current (built from the location's last_updated). One query
    when the document is used; three when the rows are read (four when a stored document turned out stale)."""
    kind = "Connector" if hint.get("connector_id") else "Evse" if hint.get("evse_uid") else "Location"
    if partner_version(partner) == V221 and not set(hint.get("fields") or ()) & set(NEW_IN_230[kind]):
        found = select_one(
            Location, _document_sql(), [object_id], fields=_PUSH_FIELDS, extra=2, extra_fields=_DOCUMENT_FIELDS
        )
        if found is None:
            return None
        location, (body, source_last_updated) = found
        if body is not None and source_last_updated == location.last_updated:
            return _Source(location, body)
    location = Location.objects.filter(pk=object_id).prefetch_related("evses__connectors").first()
    return None if location is None else _Source(location, None)


def location_push(*, partner: Partner, object_id: int, hint: dict[str, Any], sync: OutboxSync) -> PushResult:
    """Locations Receiver (locations.md 3): PUT the Location the partner does not hold yet, else PATCH (or PUT)
    only the EVSE / Connector / Location fields named by the hint, with their `last_updated`.

    A failed PATCH falls back to a PUT of the whole Location (transport.md 4.3). Unpublished locations are
    never sent; the partner is then marked as not holding a current copy, so publishing again PUTs it.
    """

    source = _source(partner, object_id, hint)
    if source is None:
        return PushResult.skip("location no longer exists")
    location = source.location
    if not location.publish:
        return PushResult(action="SKIP", exists=False, note="location not published")
    base = partner_endpoint_url(partner=partner, identifier="locations", role=RECEIVER)
    if not base:
        return PushResult.skip("partner has no locations Receiver")
    url = join_url(base, location.country_code, location.party_id, location.ocpi_id)
    client = _client(partner, location.country_code, location.party_id)

    def put_location() -> PushResult:
        body, kind = source.location_body()
        client.put(url, json=body, kind=kind)
        return PushResult(action="PUT", last_updated=location.last_updated, exists=True, data={"url": url})

    whole_location = not hint.get("evse_uid") and (not hint or hint.get("full"))
    if whole_location or not sync.exists:
        return put_location()
    if sync.holds(location.last_updated):
        return PushResult.skip("partner already holds this state")

    evse = connector = None
    if hint.get("evse_uid"):
        evse = source.evse(str(hint["evse_uid"]))
        if evse is None:
            return put_location()
        if hint.get("connector_id"):
            connector = source.connector(evse[0], str(hint["connector_id"]))
            if connector is None:
                return put_location()
    if connector is not None:
        assert evse is not None
        target_url, body, kind = join_url(url, evse[1]["uid"], connector[0]), connector[1], "Connector"
    elif evse is not None:
        target_url, body, kind = join_url(url, evse[1]["uid"]), evse[1], "Evse"
    else:
        target_url, body, kind = url, source.location_object(), "Location"
    try:
        if hint.get("full"):
            client.put(target_url, json=body, kind=kind)
            return PushResult(action="PUT", last_updated=location.last_updated)
        fields = hint.get("fields") or []
        if any(name not in body for name in fields):
            return put_location()  # a field was emptied: PATCH cannot remove information (transport.md 4.3)
        patch = {name: body[name] for name in fields if name != "last_updated"}
        patch["last_updated"] = body["last_updated"]
        client.patch(target_url, json=patch, kind=kind, wire=WireContext(partial=True))
    except OcpiPermanentError as exc:
        logger.info(
            "Partner %s rejected the update of %s (%s): sending the whole location", partner.pk, target_url, exc
        )
        return put_location()
    return PushResult(action="PATCH", last_updated=location.last_updated)
