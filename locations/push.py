"""Outbox push of the Locations module (CPO role): who receives our locations and how they are sent.

Registered with partners.outbox in LocationsConfig.ready(). The push reads the location's current state at
send time (so a retry sends the newest state), decides PUT vs PATCH from the partner's sync row, and raises
the client's OcpiTransientError / OcpiPermanentError for the outbox to handle.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpi_platform.ocpi.client import OcpiClient, OcpiPermanentError, join_url
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.views import RECEIVER
from ocpi_platform.ocpi.wire import WireContext
from partners.client import partner_client
from partners.models import OutboxSync, Partner
from partners.outbox import CPO_DATA_RECEIVER_ROLES, PushResult, partner_party
from partners.selectors import partner_endpoint_url, partner_list_with_endpoint

from .api.serializers import connector_to_ocpi, evse_to_ocpi, location_to_ocpi
from .models import Location

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


def location_push(*, partner: Partner, object_id: int, hint: dict[str, Any], sync: OutboxSync) -> PushResult:
    """Locations Receiver (locations.md 3): PUT the Location the partner does not hold yet, else PATCH (or PUT)
    only the EVSE / Connector / Location fields named by the hint, with their `last_updated`.

    A failed PATCH falls back to a PUT of the whole Location (transport.md 4.3). Unpublished locations are
    never sent; the partner is then marked as not holding a current copy, so publishing again PUTs it.
    """

    location = Location.objects.filter(pk=object_id).prefetch_related("evses__connectors").first()
    if location is None:
        return PushResult.skip("location no longer exists")
    if not location.publish:
        return PushResult(action="SKIP", exists=False, note="location not published")
    base = partner_endpoint_url(partner=partner, identifier="locations", role=RECEIVER)
    if not base:
        return PushResult.skip("partner has no locations Receiver")
    url = join_url(base, location.country_code, location.party_id, location.ocpi_id)
    client = _client(partner, location.country_code, location.party_id)

    def put_location() -> PushResult:
        client.put(url, json=location_to_ocpi(location), kind="Location")
        return PushResult(action="PUT", last_updated=location.last_updated, exists=True, data={"url": url})

    whole_location = not hint.get("evse_uid") and (not hint or hint.get("full"))
    if whole_location or not sync.exists:
        return put_location()
    if sync.holds(location.last_updated):
        return PushResult.skip("partner already holds this state")

    evse = connector = None
    if hint.get("evse_uid"):
        evse = next((e for e in location.evses.all() if e.uid.upper() == str(hint["evse_uid"]).upper()), None)
        if evse is None:
            return put_location()
        if hint.get("connector_id"):
            wanted = str(hint["connector_id"]).upper()
            connector = next((c for c in evse.connectors.all() if c.ocpi_id.upper() == wanted), None)
            if connector is None:
                return put_location()
    if connector is not None:
        target_url, body, kind = join_url(url, evse.uid, connector.ocpi_id), connector_to_ocpi(connector), "Connector"
    elif evse is not None:
        target_url, body, kind = join_url(url, evse.uid), evse_to_ocpi(evse), "Evse"
    else:
        target_url, body, kind = url, location_to_ocpi(location), "Location"
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
