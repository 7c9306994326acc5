"""Each of our locations' OCPI 2.2.1 JSON, kept ready for the CPO Sender (LocationDocument).

A Sender page of 2.2.1 is then one query (page order, documents joined) and a concatenation of the stored
documents inside the envelope (orjson.Fragment), instead of two queries and building every Location, EVSE and
Connector object of the page.

Freshness:

* Built at write time: every location service that writes one of our rows rebuilds the document in the same
  transaction, next to the outbox push (locations.services._push).
* Invalidated by any other write: a Location, EVSE or Connector saved or deleted outside the services (admin
  shell, factories, fixtures) deletes the document (signals below); queryset.update() calls of the services
  either move the location's last_updated (_touch) or invalidate explicitly (location_expire_received).
* Checked on read: a document is served only while its `source_last_updated` equals the location's
  last_updated, read in the same query; a missing or stale one is rebuilt there and then (so a bulk seed, a
  restored database or a write path that forgot the document is served fresh, only slower).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import EVSE, Connector, Location, LocationDocument


def location_document_body(data: dict[str, Any]) -> str:
    """The JSON text of one internal Location object as the 2.2.1 Sender writes it (wire conversion and renderer
    included): byte for byte what serializing the object in the response would give."""
    from ocpi_platform.ocpi import wire
    from ocpi_platform.ocpi.renderers import dumps

    return dumps(wire.to_wire("Location", data, wire.V221, wire.WireContext())).decode()


def location_documents_build(location_ids: Iterable[int]) -> dict[int, str]:
    """Build (or rebuild) the documents of these locations from their rows: two reads and one upsert whatever
    their number. Returns {location id: JSON text}; ids of locations that no longer exist are left out."""
    from .selectors import location_children_rows
    from .serializers import LOCATION_COLUMNS, location_rows_to_ocpi

    ids = list(dict.fromkeys(location_ids))
    if not ids:
        return {}
    rows = list(Location.objects.filter(pk__in=ids).order_by("pk").values_list(*LOCATION_COLUMNS, named=True))
    evses, connectors = location_children_rows(location_ids=[row.id for row in rows])
    documents = [
        LocationDocument(location_id=row.id, body=location_document_body(data), source_last_updated=row.last_updated)
        for row, data in zip(rows, location_rows_to_ocpi(rows, evses, connectors), strict=True)
    ]
    LocationDocument.objects.bulk_create(
        documents, update_conflicts=True, unique_fields=["location"], update_fields=["body", "source_last_updated"]
    )
    return {document.location_id: document.body for document in documents}


def location_document_refresh(location: Location) -> None:
    """Rebuild one location's document (the services, in the transaction of the write)."""
    location_documents_build([location.pk])


def location_document_patch_status(location: Location, evse: EVSE, previous: datetime) -> None:
    """A status-only change of one of the location's EVSEs (the most frequent write): set the EVSE's `status` and
    `last_updated` and the location's `last_updated` in the stored document instead of rebuilding it: one read
    and one update, no read of the EVSE and connector rows. The result is byte for byte the rebuilt document
    (tested). `previous` is the location's last_updated before this write: a document built from another state
    (stale, missing, or without the EVSE) is rebuilt instead. In the transaction of the write, under the
    location's lock (locations.services)."""
    import orjson

    from ocpi_platform.ocpi.renderers import dumps

    from .serializers import ocpi_datetime

    row = LocationDocument.objects.filter(location_id=location.pk).values_list("body", "source_last_updated").first()
    data = orjson.loads(row[0]) if row is not None and row[1] == previous else None
    found = next((e for e in (data or {}).get("evses") or [] if e.get("uid") == evse.uid), None)
    if data is None or found is None:
        location_document_refresh(location)
        return
    found["status"] = evse.status
    found["last_updated"] = ocpi_datetime(evse.last_updated)
    data["last_updated"] = ocpi_datetime(location.last_updated)
    LocationDocument.objects.filter(location_id=location.pk).update(
        body=dumps(data).decode(), source_last_updated=location.last_updated
    )


def location_documents_invalidate(location_ids: Iterable[int]) -> None:
    """Forget these locations' documents: the next read rebuilds them."""
    LocationDocument.objects.filter(location_id__in=list(location_ids)).delete()


def location_documents_rebuild(*, batch: int = 1000) -> int:
    """Build the documents of all our published locations (after a bulk load; the Sender would otherwise build
    them on the first pull). Returns how many were built."""
    ids = list(Location.objects.ours_published().order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        location_documents_build(ids[start : start + batch])
    return len(ids)


# --- Invalidation by writes outside the services ---------------------------------------------------------------


@receiver(post_save, sender=Location, dispatch_uid="location_document_location_saved")
def _location_written(sender: Any, instance: Location, **kwargs: Any) -> None:
    """(A deleted location's document goes with it: CASCADE.)"""
    LocationDocument.objects.filter(location_id=instance.pk).delete()


@receiver(post_save, sender=EVSE, dispatch_uid="location_document_evse_saved")
@receiver(post_delete, sender=EVSE, dispatch_uid="location_document_evse_deleted")
def _evse_written(sender: Any, instance: EVSE, **kwargs: Any) -> None:
    LocationDocument.objects.filter(location_id=instance.location_id).delete()


@receiver(post_save, sender=Connector, dispatch_uid="location_document_connector_saved")
@receiver(post_delete, sender=Connector, dispatch_uid="location_document_connector_deleted")
def _connector_written(sender: Any, instance: Connector, **kwargs: Any) -> None:
    LocationDocument.objects.filter(
        location_id__in=EVSE.objects.filter(pk=instance.evse_id).values("location_id")
    ).delete()
