"""Outbox registrations for the CPO modules Locations and Tariffs: who receives them and how they are sent.

Loaded lazily by partners.outbox.registry. The push functions read the object's current state at send time
(so a retry sends the newest state), decide PUT vs PATCH from the partner's sync row, and raise the client's
OcpiTransientError / OcpiPermanentError for the outbox to handle.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpi_platform.ocpi.client import OcpiClient, OcpiPermanentError, join_url
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.views import RECEIVER

from .models import OutboxSync, Partner
from .outbox import PushResult, partner_party, register_module
from .selectors import partner_endpoint_url, partner_list_with_endpoint
from .services import partner_client

logger = logging.getLogger(__name__)

# Parties of the partner that receive CPO data, in the order we address them.
CPO_DATA_RECEIVER_ROLES = ("EMSP", "NSP", "NAP", "OTHER", "HUB")


def _client(partner: Partner, country_code: str, party_id: str) -> OcpiClient:
    return partner_client(
        partner,
        from_party=PartyRef.of(country_code, party_id),
        to_party=partner_party(partner, CPO_DATA_RECEIVER_ROLES),
    )


# --- Locations ------------------------------------------------------------------------------------


def locations_audience(object_id: int) -> Any:
    return partner_list_with_endpoint(identifier="locations", role=RECEIVER)


def _receives(partner: Partner, identifier: str) -> bool:
    """The partner is in the audience of a module whose audience is "every Receiver of it"."""
    return partner_list_with_endpoint(identifier=identifier, role=RECEIVER).filter(pk=partner.pk).exists()


def locations_snapshot(partner: Partner) -> Any:
    """Initial sync: our own parties' published locations (unpublished ones are never sent, see location_push)."""
    from locations.models import Location

    if not _receives(partner, "locations"):
        return None
    return Location.objects.ours_published().values_list("pk", flat=True)


def location_push(*, partner: Partner, object_id: int, hint: dict[str, Any], sync: OutboxSync) -> PushResult:
    """Locations Receiver (locations.md 3): PUT the Location the partner does not hold yet, else PATCH (or PUT)
    only the EVSE / Connector / Location fields named by the hint, with their `last_updated`.

    A failed PATCH falls back to a PUT of the whole Location (transport.md 4.3). Unpublished locations are
    never sent; the partner is then marked as not holding a current copy, so publishing again PUTs it.
    """
    from locations.api.serializers import connector_to_ocpi, evse_to_ocpi, location_to_ocpi
    from locations.models import Location

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
        client.put(url, json=location_to_ocpi(location))
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
        target_url, body = join_url(url, evse.uid, connector.ocpi_id), connector_to_ocpi(connector)
    elif evse is not None:
        target_url, body = join_url(url, evse.uid), evse_to_ocpi(evse)
    else:
        target_url, body = url, location_to_ocpi(location)
    try:
        if hint.get("full"):
            client.put(target_url, json=body)
            return PushResult(action="PUT", last_updated=location.last_updated)
        fields = hint.get("fields") or []
        if any(name not in body for name in fields):
            return put_location()  # a field was emptied: PATCH cannot remove information (transport.md 4.3)
        patch = {name: body[name] for name in fields if name != "last_updated"}
        patch["last_updated"] = body["last_updated"]
        client.patch(target_url, json=patch)
    except OcpiPermanentError as exc:
        logger.info(
            "Partner %s rejected the update of %s (%s): sending the whole location", partner.pk, target_url, exc
        )
        return put_location()
    return PushResult(action="PATCH", last_updated=location.last_updated)


# --- Tariffs --------------------------------------------------------------------------------------


def tariffs_audience(object_id: int) -> Any:
    return partner_list_with_endpoint(identifier="tariffs", role=RECEIVER)


def tariffs_snapshot(partner: Partner) -> Any:
    """Initial sync: our own CPO parties' live tariffs (a deleted one is not news to a new partner)."""
    from tariffs.models import Tariff

    if not _receives(partner, "tariffs"):
        return None
    return Tariff.objects.owned_by_us().live().values_list("pk", flat=True)


def tariff_push(*, partner: Partner, object_id: int, hint: dict[str, Any], sync: OutboxSync) -> PushResult:
    """Tariffs Receiver (tariffs.md 3): PUT the whole tariff (no PATCH since 2.2), DELETE a deleted one."""
    from tariffs.api.serializers import tariff_to_ocpi
    from tariffs.selectors import tariff_get

    tariff = tariff_get(pk=object_id)  # deleted ones (tombstones) included
    if tariff is None:
        return PushResult.skip("tariff no longer exists")
    base = partner_endpoint_url(partner=partner, identifier="tariffs", role=RECEIVER)
    if not base:
        return PushResult.skip("partner has no tariffs Receiver")
    url = join_url(base, tariff.country_code, tariff.party_id, tariff.ocpi_id)
    client = _client(partner, tariff.country_code, tariff.party_id)
    if getattr(tariff, "deleted_at", None) is not None:
        if not sync.exists:
            return PushResult.skip("deleted tariff was never delivered")
        try:
            client.delete(url)
        except OcpiPermanentError as exc:
            if exc.http_status != 404:
                raise
            logger.info("Partner %s no longer had tariff %s", partner.pk, url)
        return PushResult(action="DELETE", last_updated=tariff.last_updated, exists=False)
    if sync.holds(tariff.last_updated) and not hint.get("full"):
        return PushResult.skip("partner already holds this state")
    client.put(url, json=tariff_to_ocpi(tariff))
    return PushResult(action="PUT", last_updated=tariff.last_updated, exists=True, data={"url": url})


register_module("locations", audience=locations_audience, push=location_push, snapshot=locations_snapshot)
register_module("tariffs", audience=tariffs_audience, push=tariff_push, snapshot=tariffs_snapshot)
