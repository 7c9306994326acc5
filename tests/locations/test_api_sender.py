"""Locations Sender (CPO) through the URLs: envelope, pagination, visibility, 404s, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from locations.api.serializers import LocationSerializer
from locations.models import Location
from partners.models import Party

from .factories import LocationFactory, location_with_evses

URL = "/ocpi/cpo/2.2.1/locations"


def _ids(response) -> list[str]:
    return [item["id"] for item in response.json()["data"]]


@pytest.mark.django_db
def test_location_sender_list_serves_only_our_published_locations(emsp_partner):
    mine = location_with_evses(evses=1)
    LocationFactory(publish=False)  # unpublished: never served to partners for now
    LocationFactory(country_code="BE", party_id="CPX")  # a partner's location
    Party.objects.create(role="CPO", country_code="NL", party_id="OLD", name="Old", active=False)
    LocationFactory(party_id="OLD")  # an inactive party of ours

    response = emsp_partner.client().get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert _ids(response) == [mine.ocpi_id]
    assert response["X-Total-Count"] == "1"
    assert response["X-Limit"] == "1000"
    assert "Link" not in response
    assert body["data"][0] == LocationSerializer(Location.objects.get(pk=mine.pk)).data


@pytest.mark.django_db
def test_location_sender_list_paginates_with_link_and_date_filters(emsp_partner):
    locations = [LocationFactory() for _ in range(5)]  # last_updated T0 + 0..4 minutes
    client = emsp_partner.client()

    first = client.get(URL, {"limit": 2})
    assert _ids(first) == [loc.ocpi_id for loc in locations[:2]]
    assert first["X-Total-Count"] == "5"
    link = first["Link"]  # the spec's offset/limit, then our keyset cursor
    assert link.startswith("<http://testserver/ocpi/cpo/2.2.1/locations?offset=2&limit=2&cursor=")
    assert link.endswith('>; rel="next"')

    date_from = (locations[1].last_updated).strftime("%Y-%m-%dT%H:%M:%SZ")
    date_to = (locations[3].last_updated).strftime("%Y-%m-%dT%H:%M:%SZ")
    window = client.get(URL, {"date_from": date_from, "date_to": date_to, "limit": 1})
    assert _ids(window) == [locations[1].ocpi_id]  # from inclusive, to exclusive
    assert window["X-Total-Count"] == "2"
    assert f"date_from={date_from.replace(':', '%3A')}" in window["Link"]
    last = client.get(URL, {"date_from": date_from, "date_to": date_to, "offset": 1, "limit": 1})
    assert _ids(last) == [locations[2].ocpi_id]
    assert "Link" not in last


@pytest.mark.django_db
def test_location_sender_list_bad_parameters_are_2001(emsp_partner):
    response = emsp_partner.client().get(URL, {"date_from": "yesterday"})
    assert response.json()["status_code"] == 2001
    assert "date_from" in response.json()["status_message"]


@pytest.mark.django_db
def test_location_sender_list_requires_registered_partner(api_client):
    assert api_client.get(URL).status_code == 401


@pytest.mark.django_db
def test_location_sender_list_honours_to_party_header(emsp_partner):
    Party.objects.create(role="CPO", country_code="DE", party_id="EXB", name="Second CPO")
    nl = LocationFactory()
    de = LocationFactory(country_code="DE", party_id="EXB")

    both = emsp_partner.client().get(URL)
    only_de = emsp_partner.client(HTTP_OCPI_TO_COUNTRY_CODE="de", HTTP_OCPI_TO_PARTY_ID="exb").get(URL)

    assert sorted(_ids(both)) == sorted([nl.ocpi_id, de.ocpi_id])
    assert _ids(only_de) == [de.ocpi_id]


@pytest.mark.django_db
@pytest.mark.parametrize("size", [1, 50])
def test_location_sender_list_query_count_is_constant(emsp_partner, size):
    for _ in range(size):
        location_with_evses(evses=3, connectors=2)
    client = emsp_partner.client()
    with CaptureQueriesContext(connection) as queries:
        cold = client.get(URL, {"limit": 100})  # the factories wrote no documents: built on this read

    assert len(cold.json()["data"]) == size
    # auth + our parties + count + page, + locations and EVSEs with connectors to build the documents (+ writes)
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(reads) == 6, reads

    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"limit": 100})

    assert response.json()["data"] == cold.json()["data"]
    # auth + our parties + count + page with its documents (+ the log insert), whatever the page size
    reads = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    assert len(reads) == 4, reads


@pytest.mark.django_db
def test_location_sender_object_views(emsp_partner):
    location = location_with_evses(evses=2, connectors=2, ocpi_id="Loc-1")
    evse = location.evses.order_by("pk").last()
    client = emsp_partner.client()

    one = client.get(f"{URL}/loc-1")  # CiString: case-insensitive
    assert one.status_code == 200
    assert one.json()["data"]["id"] == "Loc-1"
    assert len(one.json()["data"]["evses"]) == 2

    evse_response = client.get(f"{URL}/Loc-1/{evse.uid.lower()}/")
    assert evse_response.json()["data"]["uid"] == evse.uid
    assert [c["id"] for c in evse_response.json()["data"]["connectors"]] == ["1", "2"]

    connector = client.get(f"{URL}/Loc-1/{evse.uid}/2")
    assert connector.json()["data"]["id"] == "2"
    assert connector.json()["data"]["last_updated"] == "2024-01-01T00:00:00Z"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/NOPE", "Unknown location: NOPE"),
        ("/HIDDEN", "Unknown location: HIDDEN"),
        ("/Loc-1/NOPE", "Unknown EVSE: NOPE at location Loc-1"),
        ("/Loc-1/{evse}/9", "Unknown connector: 9"),
    ],
)
def test_location_sender_unknown_ids_are_404_with_envelope(emsp_partner, path, message):
    location = location_with_evses(evses=1, ocpi_id="Loc-1")
    LocationFactory(ocpi_id="HIDDEN", publish=False)
    path = path.format(evse=location.evses.get().uid)

    response = emsp_partner.client().get(URL + path)

    assert response.status_code == 404
    assert response.json()["status_code"] == 2003  # Unknown Location, for the EVSE and connector too
    assert message in response.json()["status_message"]


@pytest.mark.django_db
def test_location_sender_is_in_version_details(emsp_partner):
    response = emsp_partner.client().get("/ocpi/2.2.1")
    endpoints = response.json()["data"]["endpoints"]
    assert {
        "identifier": "locations",
        "role": "SENDER",
        "url": "http://testserver/ocpi/cpo/2.2.1/locations",
    } in endpoints


@pytest.mark.django_db
def test_location_sender_list_row_builder_equals_serializer_for_every_field(emsp_partner):
    from locations.services import location_put

    from .ocpi_data import full_location

    data = full_location(publish=True, publish_allowed_to=[])
    serializer = LocationSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    location_put(data=serializer.validated_data)
    location_with_evses(evses=2, connectors=1)  # a second, sparse location on the same page
    expected = [LocationSerializer(loc).data for loc in Location.objects.order_by("last_updated", "pk")]

    response = emsp_partner.client().get(URL)

    assert response.json()["data"] == expected
    assert expected[-1]["evses"][0]["connectors"][0]["max_electric_power"] == 150000
