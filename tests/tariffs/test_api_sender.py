"""Tariffs Sender interface (CPO role): GET list through the URL with a registered partner's token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tariffs.services import tariff_create, tariff_delete, tariff_seed_demo

from .factories import make_tariff, our_cpo, tariff_body, validated

pytestmark = pytest.mark.django_db

URL = "/ocpi/cpo/2.2.1/tariffs"


def _stamped(ocpi_id: str, moment: datetime, **extra: Any) -> Any:
    return tariff_create(data=validated(tariff_body(ocpi_id, **extra)), last_updated=moment)


@pytest.fixture(autouse=True)
def _our_party() -> None:
    our_cpo("NL", "EXA")


def test_tariff_list_returns_our_tariffs_in_the_envelope(emsp_partner: Any) -> None:
    tariff_seed_demo(country_code="NL", party_id="EXA")

    response = emsp_partner.client().get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert [t["id"] for t in body["data"]] == ["AC-STD", "DC-TOD"]
    assert body["data"][1]["elements"][1]["restrictions"] == {"start_time": "23:00", "end_time": "07:00"}
    assert response["X-Total-Count"] == "2"
    assert "Link" not in response
    # Optional trailing slash.
    assert emsp_partner.client().get(URL + "/").json()["data"] == body["data"]


def test_tariff_list_leaves_out_deleted_and_partner_tariffs(emsp_partner: Any) -> None:
    make_tariff("LIVE")
    tariff_delete(tariff=make_tariff("DELETED"))
    make_tariff("THEIRS", country_code="BE", party_id="CPX")

    data = emsp_partner.client().get(URL).json()["data"]

    assert [t["id"] for t in data] == ["LIVE"]


def test_tariff_list_paginates_with_headers(emsp_partner: Any, settings: Any) -> None:
    settings.OCPI_PAGE_LIMIT_MAX = 3
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(5):
        _stamped(f"T{i}", base + timedelta(days=i))

    first = emsp_partner.client().get(URL, {"limit": 2, "date_from": "2024-01-01T00:00:00Z"})
    assert [t["id"] for t in first.json()["data"]] == ["T0", "T1"]
    assert first["X-Total-Count"] == "5"
    assert first["X-Limit"] == "3"
    link = first["Link"]  # the spec's offset/limit/date_from, then our keyset cursor
    assert link.startswith(
        "<http://testserver/ocpi/cpo/2.2.1/tariffs?offset=2&limit=2&date_from=2024-01-01T00%3A00%3A00Z&cursor="
    )
    assert link.endswith('>; rel="next"')

    last = emsp_partner.client().get(URL, {"offset": 4, "limit": 10})
    assert [t["id"] for t in last.json()["data"]] == ["T4"]
    assert "Link" not in last


def test_tariff_list_date_filters_from_inclusive_to_exclusive(emsp_partner: Any) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    for i in range(4):
        _stamped(f"T{i}", base + timedelta(days=i))

    response = emsp_partner.client().get(URL, {"date_from": "2024-01-02T00:00:00Z", "date_to": "2024-01-04T00:00:00"})

    assert [t["id"] for t in response.json()["data"]] == ["T1", "T2"]
    assert response["X-Total-Count"] == "2"


def test_tariff_list_bad_parameters_are_2001(emsp_partner: Any) -> None:
    for params in ({"date_from": "yesterday"}, {"limit": "many"}, {"offset": -1}):
        body = emsp_partner.client().get(URL, params).json()
        assert body["status_code"] == 2001
        assert next(iter(params)) in body["status_message"]


def test_tariff_list_needs_a_registered_partner(api_client: Any) -> None:
    response = api_client.get(URL)
    assert response.status_code == 401
    assert response.json()["status_code"] == 2000


def test_tariff_list_addressed_to_one_of_our_parties_returns_only_its_tariffs(emsp_partner: Any) -> None:
    our_cpo("NL", "EXB")
    make_tariff("A")
    make_tariff("B", party_id="EXB")
    routed = emsp_partner.client(
        HTTP_OCPI_TO_COUNTRY_CODE="NL",
        HTTP_OCPI_TO_PARTY_ID="EXB",
        HTTP_OCPI_FROM_COUNTRY_CODE="DE",
        HTTP_OCPI_FROM_PARTY_ID="EMP",
    )
    assert [t["id"] for t in routed.get(URL).json()["data"]] == ["B"]
    # Addressed to a party that is not one of our CPOs (e.g. a Hub's id): all our tariffs.
    hub = emsp_partner.client(HTTP_OCPI_TO_COUNTRY_CODE="NL", HTTP_OCPI_TO_PARTY_ID="HUB")
    assert [t["id"] for t in hub.get(URL).json()["data"]] == ["A", "B"]


def _queries_for_page(client: Any, limit: int) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(URL, {"limit": limit})
    assert response.status_code == 200
    return len(response.json()["data"]), len(ctx.captured_queries)


def _make_two_element_tariff(ocpi_id: str) -> None:
    make_tariff(
        ocpi_id,
        elements=[
            {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}], "restrictions": {"max_power": 11}},
            {"price_components": [{"type": "TIME", "price": 1, "step_size": 60}]},
        ],
    )


def test_tariff_list_uses_a_constant_number_of_queries_for_1_or_50_tariffs(emsp_partner: Any) -> None:
    client = emsp_partner.client()
    _make_two_element_tariff("T00")
    client.get(URL)  # warm-up (caches outside this module)
    one, queries_one = _queries_for_page(client, 100)
    for i in range(1, 50):
        _make_two_element_tariff(f"T{i:02}")

    fifty, queries_fifty = _queries_for_page(client, 100)
    one_of_fifty, queries_small_page = _queries_for_page(client, 1)

    assert (one, fifty, one_of_fifty) == (1, 50, 1)
    assert queries_one == queries_fifty == queries_small_page
    assert queries_one <= 8


def test_version_details_announce_the_tariffs_sender(emsp_partner: Any) -> None:
    endpoints = emsp_partner.client().get("/ocpi/2.2.1").json()["data"]["endpoints"]
    assert {"identifier": "tariffs", "role": "SENDER", "url": "http://testserver/ocpi/cpo/2.2.1/tariffs"} in endpoints
