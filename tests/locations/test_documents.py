"""The 2.2.1 Locations Sender serves each location's stored document (locations/documents.py): byte for byte what
building the objects gives, fresh after every kind of write, rebuilt on read when missing or stale."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from django.utils import timezone

from locations import services
from locations.api.serializers import LocationSerializer, location_rows_to_ocpi
from locations.models import EVSE, Connector, Location, LocationDocument
from locations.selectors import location_children_rows
from locations.serializers import LOCATION_COLUMNS
from ocpi_platform.ocpi.renderers import dumps
from ocpi_platform.ocpi.wire import V221, WireContext, to_wire

from .factories import OUR_CC, OUR_PID, ConnectorFactory, EvseFactory, LocationFactory, location_with_evses
from .ocpi_data import LOCATION_EXAMPLES, example, full_location

URL = "/ocpi/cpo/2.2.1/locations"
PREFIX = b'{"data":'


@pytest.fixture(autouse=True)
def _no_outbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("partners.outbox.outbox_enqueue", lambda **kwargs: None)


def _put(data: dict[str, Any]) -> Location:
    serializer = LocationSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    location, _ = services.location_put(data=serializer.validated_data)
    return location


def _seed() -> list[Location]:
    """Every field kind: the full location, the spec's Location examples, 2.3.0-only fields, a sparse one."""
    locations = [_put(full_location(publish=True, publish_allowed_to=[]))]
    for number, name in enumerate(LOCATION_EXAMPLES):
        data = {**example(name), "country_code": OUR_CC, "party_id": OUR_PID, "id": f"EX-{number}"}
        for evse in data.get("evses") or []:  # the examples share EVSE uids; ours are unique per party
            evse["uid"] = f"{number}-{evse['uid'][:30]}"
        if not data["publish"]:
            data.update(publish=True, publish_allowed_to=[])
        locations.append(_put(data))
    with_230 = location_with_evses(evses=1, connectors=1, parking_places=[{"id": "P1"}], help_phone="+3120")
    EVSE.objects.filter(location=with_230).update(accepted_service_providers=["Club"])
    locations += [with_230, location_with_evses(evses=0)]
    return locations


def _built_one_by_one() -> bytes:
    """The `data` array as the Sender built it before documents: rows, objects, 2.2.1 conversion, renderer."""
    rows = list(
        Location.objects.ours_published().order_by("last_updated", "pk").values_list(*LOCATION_COLUMNS, named=True)
    )
    evses, connectors = location_children_rows(location_ids=[row.id for row in rows])
    return dumps(to_wire("Location", location_rows_to_ocpi(rows, evses, connectors), V221, WireContext()))


def _served(partner: Any, **query: Any) -> bytes:
    response = partner.client().get(URL, {"limit": 1000, **query})
    assert response.status_code == 200, response.content
    content = response.content
    assert content.startswith(PREFIX), content[:100]
    end = content.rindex(b',"status_code":1000,')
    assert orjson.loads(content)["status_code"] == 1000
    return content[len(PREFIX) : end]


def _assert_fresh(partner: Any) -> list[dict[str, Any]]:
    served = _served(partner)
    assert served == _built_one_by_one()
    data = orjson.loads(served)
    # and the same objects as the DRF serializers give, instance by instance
    instances = Location.objects.ours_published().order_by("last_updated", "pk")
    assert data == to_wire("Location", [LocationSerializer(loc).data for loc in instances], V221, WireContext())
    return data


def _by_id(data: list[dict[str, Any]], ocpi_id: str) -> dict[str, Any]:
    return next(item for item in data if item["id"] == ocpi_id)


@pytest.mark.django_db
def test_served_documents_are_the_bytes_built_object_by_object(emsp_partner):
    locations = _seed()
    served = _assert_fresh(emsp_partner)  # the factory locations are built on this read

    assert len(served) == len(locations)
    assert LocationDocument.objects.count() == len(locations)
    full = _by_id(served, "LOC-FULL")
    assert full["evses"][0]["connectors"][0]["max_electric_power"] == 150000
    assert full["energy_mix"] and full["related_locations"] and full["opening_times"]
    assert all("parking_places" not in item and "help_phone" not in item for item in served)  # 2.3.0 only
    assert _served(emsp_partner) == _built_one_by_one()  # second read: from the stored documents


@pytest.mark.django_db
def test_the_services_rebuild_the_document_in_the_write(emsp_partner):
    location = _put(full_location(publish=True, publish_allowed_to=[]))
    evse = location.evses.get()
    connector = evse.connectors.get()

    def document() -> dict[str, Any]:
        stored = LocationDocument.objects.get(location=location)
        location.refresh_from_db()
        assert stored.source_last_updated == location.last_updated
        return orjson.loads(stored.body)

    services.evse_set_status(evse=evse, status="AVAILABLE")
    assert document()["evses"][0]["status"] == "AVAILABLE"
    services.connector_update(connector=Connector.objects.get(pk=connector.pk), data={"tariff_ids": ["NEW"]})
    assert document()["evses"][0]["connectors"][0]["tariff_ids"] == ["NEW"]
    services.location_update(location=location, data={"name": "Renamed"})
    assert document()["name"] == "Renamed"
    _assert_fresh(emsp_partner)


@pytest.mark.django_db
def test_every_kind_of_write_is_served_fresh(emsp_partner):
    _seed()
    location = Location.objects.get(ocpi_id="LOC-FULL")
    _assert_fresh(emsp_partner)

    evse = location.evses.get()
    services.evse_set_status(evse=evse, status="OUTOFORDER")
    assert _by_id(_assert_fresh(emsp_partner), "LOC-FULL")["evses"][0]["status"] == "OUTOFORDER"

    connector = Connector.objects.get(evse=evse)
    services.connector_update(connector=connector, data={"max_amperage": 250})
    assert _by_id(_assert_fresh(emsp_partner), "LOC-FULL")["evses"][0]["connectors"][0]["max_amperage"] == 250

    services.connector_put(evse=EVSE.objects.get(pk=evse.pk), data={**_connector_data(), "ocpi_id": "2"})
    assert len(_by_id(_assert_fresh(emsp_partner), "LOC-FULL")["evses"][0]["connectors"]) == 2

    services.evse_update(evse=EVSE.objects.get(pk=evse.pk), data={"connectors": [_connector_data()]})  # one goes
    assert [c["id"] for c in _by_id(_assert_fresh(emsp_partner), "LOC-FULL")["evses"][0]["connectors"]] == ["1"]

    services.location_update(location=location, data={"name": "Renamed", "facilities": ["WIFI"]})
    served = _by_id(_assert_fresh(emsp_partner), "LOC-FULL")
    assert (served["name"], served["facilities"]) == ("Renamed", ["WIFI"])

    services.location_publish(location=location, publish=False)
    assert "LOC-FULL" not in [item["id"] for item in _assert_fresh(emsp_partner)]
    services.location_publish(location=Location.objects.get(pk=location.pk), publish=True)
    assert _by_id(_assert_fresh(emsp_partner), "LOC-FULL")["publish"] is True

    services.evse_put(location=location, data={**_evse_data(), "uid": "NEW-EVSE"})
    assert [e["uid"] for e in _by_id(_assert_fresh(emsp_partner), "LOC-FULL")["evses"]] == ["FULL-1", "NEW-EVSE"]


def _connector_data() -> dict[str, Any]:
    return {
        "ocpi_id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": 16,
    }


def _evse_data() -> dict[str, Any]:
    return {"status": "AVAILABLE", "connectors": [_connector_data()]}


@pytest.mark.django_db
def test_writes_outside_the_services_are_served_fresh(emsp_partner):
    """ORM saves and deletes (admin shell, fixtures) invalidate; a queryset update that moves the location's
    last_updated (as the services' _touch does) makes the stored document stale: rebuilt on read."""
    location = location_with_evses(evses=2, connectors=2)
    _assert_fresh(emsp_partner)
    assert LocationDocument.objects.filter(location=location).exists()

    EVSE.objects.filter(location=location).order_by("pk").last().delete()  # an EVSE deleted
    assert not LocationDocument.objects.filter(location=location).exists()
    assert len(_by_id(_assert_fresh(emsp_partner), location.ocpi_id)["evses"]) == 1

    evse = EVSE.objects.get(location=location)
    ConnectorFactory(evse=evse, ocpi_id="3")  # a connector saved
    assert len(_by_id(_assert_fresh(emsp_partner), location.ocpi_id)["evses"][0]["connectors"]) == 3

    Connector.objects.get(evse=evse, ocpi_id="1").delete()  # a connector deleted
    assert len(_by_id(_assert_fresh(emsp_partner), location.ocpi_id)["evses"][0]["connectors"]) == 2

    EvseFactory(location=location, status="BLOCKED")  # an EVSE saved
    assert _by_id(_assert_fresh(emsp_partner), location.ocpi_id)["evses"][-1]["status"] == "BLOCKED"

    location.city = "Utrecht"
    location.save()  # a location saved
    assert _by_id(_assert_fresh(emsp_partner), location.ocpi_id)["city"] == "Utrecht"

    stamp = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=1)
    EVSE.objects.filter(location=location).update(status="UNKNOWN", last_updated=stamp)  # no signal
    Location.objects.filter(pk=location.pk).update(last_updated=stamp)
    served = _by_id(_assert_fresh(emsp_partner), location.ocpi_id)
    assert {evse["status"] for evse in served["evses"]} == {"UNKNOWN"}
    assert LocationDocument.objects.get(location=location).source_last_updated == stamp  # rebuilt and stored

    location.delete()
    assert location.ocpi_id not in [item["id"] for item in _assert_fresh(emsp_partner)]


@pytest.mark.django_db
def test_pages_and_cursors_over_documents_equal_the_full_list(emsp_partner):
    for _ in range(7):
        location_with_evses(evses=1, connectors=1)
    services.evse_set_status(evse=EVSE.objects.order_by("pk").first(), status="CHARGING")  # moves to the end
    expected = orjson.loads(_built_one_by_one())

    client = emsp_partner.client()
    url: str | None = f"{URL}?limit=3"
    pulled: list[dict[str, Any]] = []
    totals = set()
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pulled += response.json()["data"]
        totals.add(response["X-Total-Count"])
        link = response.headers.get("Link")
        url = link[link.index("/ocpi/") : link.index(">")] if link else None

    assert pulled == expected
    assert totals == {"7"}


@pytest.mark.django_db
def test_other_versions_keep_converting_objects(emsp_partner):
    """2.1.1 and 2.3.0 are built per page from the rows (the documents are 2.2.1)."""
    location_with_evses(evses=1, connectors=1, help_phone="+3120")

    v230 = emsp_partner.client().get("/ocpi/cpo/2.3.0/locations")
    v221 = emsp_partner.client().get(URL)

    assert v230.json()["data"][0]["help_phone"] == "+3120"
    assert "help_phone" not in v221.json()["data"][0]


@pytest.mark.django_db
def test_document_rows_read_last_updated_exactly():
    """The page rows carry last_updated as text (parsed only for the cursor): the same instant, microseconds kept."""
    from locations.selectors import location_documents_published

    stamp = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    location = location_with_evses(evses=0, last_updated=stamp)
    LocationFactory(last_updated=stamp.replace(microsecond=0))

    rows = location_documents_published()[0:2]

    assert [row.last_updated for row in rows] == [stamp.replace(microsecond=0), stamp]
    assert rows[1].id == location.pk
    assert rows[1].fresh is None and rows[1].document_body is None  # no document yet
