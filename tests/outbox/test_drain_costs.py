"""What a partner's drain and the most frequent write cost (issue 17, push latency): the drain sends the stored
2.2.1 document of a location instead of building it, its batch's writes do not grow with the batch, and a
status-only change patches the stored document in place, byte for byte what a rebuild gives."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import orjson
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from locations.api.serializers import location_to_ocpi
from locations.documents import location_document_body
from locations.models import EVSE, Location, LocationDocument
from locations.services import evse_set_status, evse_update, location_create
from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.renderers import dumps
from partners.models import MessageLog, OutboxState, OutboxSync, Partner
from partners.outbox import services as outbox_services
from partners.outbox.drain import outbox_drain
from tests.outbox.conftest import location_data, partner_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def drains(mocker: Any) -> list[int]:
    """The drains the outbox queues; none runs by itself: the test runs them."""
    queued: list[int] = []
    mocker.patch(
        "partners.outbox.services.schedule_drain",
        side_effect=lambda partner_id, countdown=0, **kw: queued.append(partner_id),
    )
    return queued


def rich_location(ocpi_id: str = "LOC1") -> dict[str, Any]:
    """A location with two EVSEs, several connectors and nested JSON values (floats included)."""
    data = location_data(
        ocpi_id=ocpi_id,
        evses=("EVSE-A", "EVSE-B"),
        facilities=["CAFE", "WIFI"],
        operator={"name": "Example Operator", "website": "https://example.com"},
        opening_times={"twentyfourseven": True},
        energy_mix={
            "is_green_energy": True,
            "energy_sources": [{"source": "SOLAR", "percentage": 62.5}, {"source": "WIND", "percentage": 37.5}],
        },
    )
    data["evses"][0]["capabilities"] = ["RFID_READER", "REMOTE_START_STOP_CAPABLE"]
    data["evses"][0]["floor_level"] = "-1"
    data["evses"][1]["connectors"].append(
        {
            "ocpi_id": "2",
            "standard": "IEC_62196_T2_COMBO",
            "format": "CABLE",
            "power_type": "DC",
            "max_voltage": 920,
            "max_amperage": 200,
            "max_electric_power": 150000,
        }
    )
    return data


def document(location: Location) -> str:
    return LocationDocument.objects.get(location=location).body


def rebuilt(location: Location) -> str:
    """The document built afresh from the model instances (the serializers' builder, not stored)."""
    built = Location.objects.prefetch_related("evses__connectors").get(pk=location.pk)
    return location_document_body(location_to_ocpi(built))


def status_writes(capture: Any, location: Location, uid: str, statuses: list[str]) -> EVSE:
    evse = EVSE.objects.get(location=location, uid=uid)
    for status in statuses:
        with capture(execute=True):
            evse = evse_set_status(evse=evse, status=status)
    return evse


# --- The status-only write ------------------------------------------------------------------------------------


def test_a_status_change_patches_the_document_byte_for_byte_as_a_rebuild(
    drains, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        location = location_create(data=rich_location())
    before = document(location)
    with CaptureQueriesContext(connection) as queries:
        status_writes(django_capture_on_commit_callbacks, location, "EVSE-B", ["CHARGING"])
    location.refresh_from_db()
    patched = document(location)
    assert patched != before
    data = orjson.loads(patched)
    assert [e["status"] for e in data["evses"]] == ["AVAILABLE", "CHARGING"]
    # Not rebuilt from the rows: no read of the EVSE or connector rows, no upsert of the document.
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "locations_connector" not in sql
    assert 'INSERT INTO "locations_locationdocument"' not in sql
    assert patched == rebuilt(location)
    assert LocationDocument.objects.get(location=location).source_last_updated == location.last_updated
    for uid, status in (("EVSE-A", "BLOCKED"), ("EVSE-B", "AVAILABLE"), ("EVSE-A", "OUTOFORDER")):
        status_writes(django_capture_on_commit_callbacks, location, uid, [status])
        location.refresh_from_db()
        assert document(location) == rebuilt(location)


def test_a_status_change_at_a_whole_second_patches_the_document_as_a_rebuild(
    drains, django_capture_on_commit_callbacks, mocker
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        location = location_create(data=rich_location())
    whole = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)  # formatted without fraction (serializers.ocpi_datetime)
    mocker.patch("locations.services.timezone.now", return_value=whole)
    status_writes(django_capture_on_commit_callbacks, location, "EVSE-A", ["CHARGING"])
    location.refresh_from_db()
    assert location.last_updated == whole
    assert '"last_updated":"2031-05-06T07:08:09Z"' in document(location)
    assert document(location) == rebuilt(location)


def test_a_status_change_rebuilds_a_stale_or_missing_document(drains, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        location = location_create(data=rich_location())
    # A write outside the services (admin shell): the signal deletes the document.
    EVSE.objects.get(location=location, uid="EVSE-A").save()
    assert not LocationDocument.objects.filter(location=location).exists()
    status_writes(django_capture_on_commit_callbacks, location, "EVSE-A", ["CHARGING"])
    location.refresh_from_db()
    assert document(location) == rebuilt(location)
    # A document built from another state of the location (here: an older one) is rebuilt, not patched.
    LocationDocument.objects.filter(location=location).update(
        body='{"stale": true}', source_last_updated=location.last_updated - dt.timedelta(seconds=1)
    )
    status_writes(django_capture_on_commit_callbacks, location, "EVSE-B", ["CHARGING"])
    location.refresh_from_db()
    assert document(location) == rebuilt(location)


def test_a_status_change_pushes_as_before_and_an_unchanged_status_is_a_no_op(
    drains, django_capture_on_commit_callbacks, receiver
) -> None:
    partner = partner_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        location = location_create(data=rich_location())
    outbox_drain(partner_id=partner.pk)
    evse = status_writes(django_capture_on_commit_callbacks, location, "EVSE-A", ["CHARGING"])
    assert EVSE.objects.get(pk=evse.pk).status == "CHARGING"
    assert EVSE.objects.get(pk=evse.pk).last_updated == evse.last_updated
    delivery = partner.outbox_deliveries.get(state=OutboxState.PENDING)
    assert delivery.hint == {"evse_uid": "EVSE-A", "fields": ["status"]}
    stamp = Location.objects.get(pk=location.pk).last_updated
    assert stamp == evse.last_updated  # the location follows its EVSE
    status_writes(django_capture_on_commit_callbacks, location, "EVSE-A", ["CHARGING"])
    assert Location.objects.get(pk=location.pk).last_updated == stamp
    with pytest.raises(Exception, match="not an EVSE status"):
        evse_update(evse=evse, data={"status": "BROKEN"})


# --- What the drain sends ------------------------------------------------------------------------------------------


def out_logs(partner: Partner) -> list[MessageLog]:
    return list(MessageLog.objects.filter(partner=partner, direction="OUT").order_by("pk"))


def test_the_put_sends_the_stored_document_and_the_patch_takes_the_evse_from_it(
    drains, django_capture_on_commit_callbacks, receiver
) -> None:
    partner = partner_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        location = location_create(data=rich_location())
    outbox_drain(partner_id=partner.pk)
    (put,) = out_logs(partner)
    assert put.method == "PUT"
    assert put.request_body == document(location)  # the stored text as it is
    # ... which is what building the location for the wire gives (as the push did before).
    built = Location.objects.prefetch_related("evses__connectors").get(pk=location.pk)
    assert put.request_body.encode() == dumps(wire.to_wire("Location", location_to_ocpi(built), wire.V221))
    assert receiver.ok("PUT")[0].body == orjson.loads(document(location))

    status_writes(django_capture_on_commit_callbacks, location, "EVSE-B", ["CHARGING"])
    outbox_drain(partner_id=partner.pk)
    patch = out_logs(partner)[-1]
    stored = next(e for e in orjson.loads(document(location))["evses"] if e["uid"] == "EVSE-B")
    assert patch.method == "PATCH" and patch.url.endswith("/LOC1/EVSE-B")
    assert orjson.loads(patch.request_body) == {"status": "CHARGING", "last_updated": stored["last_updated"]}


def test_a_missing_document_or_another_version_is_sent_from_the_rows(
    drains, django_capture_on_commit_callbacks, receiver
) -> None:
    partner = partner_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        location = location_create(data=rich_location())
    LocationDocument.objects.filter(location=location).delete()
    outbox_drain(partner_id=partner.pk)
    assert orjson.loads(out_logs(partner)[-1].request_body) == orjson.loads(rebuilt(location))
    # A 2.1.1 partner gets the 2.1.1 shape (built from the rows, converted), not the 2.2.1 document.
    Partner.objects.filter(pk=partner.pk).update(version="2.1.1")
    with django_capture_on_commit_callbacks(execute=True):
        outbox_services.outbox_enqueue(module="locations", object_id=location.pk, hint={"full": True})
    outbox_drain(partner_id=partner.pk)
    body = orjson.loads(out_logs(partner)[-1].request_body)
    assert "publish" not in body and body != orjson.loads(rebuilt(location))  # 2.1.1 has no `publish`


# --- Queries per drain batch -------------------------------------------------------------------------------------


def drain_queries(capture: Any, receiver: Any, n: int) -> tuple[Counter[str], int, int]:
    """Queries of a drain sending n steady-state PATCHes (one per location) to a new partner."""
    partner = partner_for(receiver, name=f"eMSP {n}", party=("DE", f"E{n:02d}"))
    locations = []
    with capture(execute=True):
        for i in range(n):
            locations.append(location_create(data=location_data(ocpi_id=f"N{n}-{i}", evses=(f"N{n}-{i}-E",))))
    outbox_drain(partner_id=partner.pk)  # the PUTs: the partner then holds every location
    for location in locations:
        status_writes(capture, location, f"{location.ocpi_id}-E", ["CHARGING"])
    with CaptureQueriesContext(connection) as queries:
        report = outbox_drain(partner_id=partner.pk)
    assert report["sent"] == n and report["batches"] == 1
    assert [r.method for r in receiver.ok()[-n:]] == ["PATCH"] * n
    assert OutboxSync.objects.filter(partner=partner, delivered_last_updated__isnull=False).count() == n
    assert MessageLog.objects.filter(partner=partner, direction="OUT").count() == 2 * n  # n PUTs, n PATCHes
    kinds = Counter(" ".join(q["sql"].split()[:4])[:60] for q in queries.captured_queries)
    location_reads = sum('FROM "locations_location"' in q["sql"] for q in queries.captured_queries)
    return kinds, len(queries.captured_queries), location_reads


def test_a_drain_batch_costs_one_read_per_delivery_and_a_constant_rest(
    drains, django_capture_on_commit_callbacks, receiver, settings
) -> None:
    settings.OCPI_OUTBOX_DRAIN_SECONDS = 60  # one batch per drain however slow this machine is
    _, small_total, small_reads = drain_queries(django_capture_on_commit_callbacks, receiver, 2)
    large, large_total, large_reads = drain_queries(django_capture_on_commit_callbacks, receiver, 12)
    # The push reads each location with its stored document (one query, state at send time); nothing else
    # grows with the batch: one sync UPDATE, one message log INSERT, the Hub party status and the endpoint
    # read once per drain.
    assert large_total - small_total == 12 - 2
    assert (small_reads, large_reads) == (2, 12)
    expected = {
        "partners_messagelog": 1,  # the INSERT of the batch's rows
        "partners_outboxsync": 2,  # the batch's sync rows read, and recorded
        "partners_clientinfo": 1,  # the (Hub) party status
        "partners_partnerendpoint": 1,
    }
    for table, count in expected.items():
        assert sum(n for kind, n in large.items() if f'"{table}"' in kind) == count, (table, large)
    assert not any("locations_evse" in kind or "locations_connector" in kind for kind in large)


def test_missing_sync_rows_are_created_in_bulk(drains, django_capture_on_commit_callbacks, receiver) -> None:
    partner = partner_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(5):
            location_create(data=location_data(ocpi_id=f"S{i}", evses=(f"S{i}-E",)))
    with CaptureQueriesContext(connection) as queries:
        assert outbox_drain(partner_id=partner.pk)["sent"] == 5
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "partners_outboxsync"')]
    assert len(inserts) == 1
    syncs = OutboxSync.objects.filter(partner=partner, module="locations")
    assert syncs.count() == 5 and all(sync.exists and sync.data.get("url") for sync in syncs)


def test_a_batch_never_moves_a_sync_record_backwards(drains, django_capture_on_commit_callbacks, receiver) -> None:
    partner = partner_for(receiver)
    with django_capture_on_commit_callbacks(execute=True):
        first = location_create(data=location_data(ocpi_id="B1", evses=("B1-E",)))
        second = location_create(data=location_data(ocpi_id="B2", evses=("B2-E",)))
    outbox_drain(partner_id=partner.pk)
    for location in (first, second):
        status_writes(django_capture_on_commit_callbacks, location, f"{location.ocpi_id}-E", ["CHARGING"])
    later = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)  # a newer state recorded meanwhile (a slower, older send)
    OutboxSync.objects.filter(partner=partner, object_id=first.pk).update(delivered_last_updated=later)
    outbox_drain(partner_id=partner.pk)
    assert OutboxSync.objects.get(partner=partner, object_id=first.pk).delivered_last_updated == later
    second.refresh_from_db()
    assert OutboxSync.objects.get(partner=partner, object_id=second.pk).delivered_last_updated == second.last_updated


# --- Fan-out: the partners' drain keys in one round trip -----------------------------------------------------------


def test_schedule_drains_queues_one_drain_per_partner_in_one_round_trip(settings, mocker) -> None:
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("drain deduplication needs the shared (Redis) cache: set REDIS_URL")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    enqueue = mocker.patch("partners.outbox.services.enqueue")
    ids = [987001, 987002, 987003]
    for partner_id in ids:
        outbox_services.drain_started(partner_id)  # no key left from another run
    pipeline = mocker.spy(outbox_services, "_cache_add_many")
    outbox_services.schedule_drains(ids)
    assert pipeline.call_count == 1
    assert sorted(call.kwargs["partner_id"] for call in enqueue.call_args_list) == ids
    outbox_services.schedule_drains(ids)  # every partner has a drain queued: nothing more
    assert enqueue.call_count == 3
    outbox_services.drain_started(ids[1])  # that drain holds its lane: its partner needs a new one
    outbox_services.schedule_drain(ids[0])
    outbox_services.schedule_drains(ids)
    assert [call.kwargs["partner_id"] for call in enqueue.call_args_list[3:]] == [ids[1]]
    for partner_id in ids:
        outbox_services.drain_started(partner_id)
