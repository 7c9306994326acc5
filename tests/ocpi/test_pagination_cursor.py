"""Keyset pagination of the Sender lists: the Link next URL carries a signed cursor (ocpi_platform/ocpi/pagination.py).

Walking a list by following Link serves every object, in page order, whatever happens to the list meanwhile; the
spec's offset keeps working; a cursor we did not issue is OCPI 2001 naming `cursor`; X-Total-Count is exact on a
first page and cached per filter on later pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from locations.models import Location
from partners.models import MessageLog, Party, Role
from tests.locations.factories import LocationFactory, location_with_evses
from tests.tokens.factories import TokenFactory
from tokens.models import Token

pytestmark = pytest.mark.django_db

LOCATIONS = "/ocpi/cpo/2.2.1/locations"
TOKENS = "/ocpi/emsp/2.2.1/tokens"


def _next(response: Any) -> str | None:
    link = response.get("Link")
    if not link:
        return None
    assert link.endswith('>; rel="next"')
    return link[1 : link.index(">")].replace("http://testserver", "")


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def _ids(response: Any, key: str = "id") -> list[str]:
    assert response.status_code == 200, response.content
    assert response.json()["status_code"] == 1000, response.content
    return [item[key] for item in response.json()["data"]]


def _walk(client: Any, url: str, key: str = "id", between: Any = None) -> list[str]:
    """Follow Link next from `url` to the last page; `between(page_number)` runs after each page."""
    seen: list[str] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        seen += _ids(response, key)
        pages += 1
        next_url = _next(response)
        if next_url:
            assert "cursor" in _query(next_url)
        if between:
            between(pages)
    return seen


def _touch(location: Location, minutes: int) -> None:
    """An update as the services make it: a later last_updated."""
    Location.objects.filter(pk=location.pk).update(
        last_updated=dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
    )


def test_following_link_serves_every_location_once_in_order(emsp_partner: Any) -> None:
    locations = [location_with_evses(evses=1) for _ in range(7)]

    seen = _walk(emsp_partner.client(), f"{LOCATIONS}?limit=2")

    assert seen == [loc.ocpi_id for loc in locations]


def test_link_keeps_the_spec_parameters_next_to_the_cursor(emsp_partner: Any) -> None:
    for _ in range(5):
        LocationFactory()

    first = emsp_partner.client().get(LOCATIONS, {"limit": 2})
    query = _query(_next(first) or "")
    assert query["offset"] == "2" and query["limit"] == "2"  # transport.md 7.2: updated offset/limit
    second = emsp_partner.client().get(_next(first))
    assert _query(_next(second) or "")["offset"] == "4"


def test_updates_during_the_walk_skip_nothing_and_move_the_updated_location_to_the_end(emsp_partner: Any) -> None:
    """Decision (documented in pagination.py): the list is in (last_updated, pk) order, so an object updated during
    the walk moves to the end. Not yet served: served once, at the end. Already served: served again at the end,
    in its newer version (the receiver keeps the newer copy). Nothing is skipped."""
    locations = [LocationFactory() for _ in range(6)]
    ids = [loc.ocpi_id for loc in locations]

    def update_after_first_page(page: int) -> None:
        if page == 1:
            _touch(locations[0], 1)  # served on page 1
            _touch(locations[3], 2)  # not served yet

    seen = _walk(emsp_partner.client(), f"{LOCATIONS}?limit=2", between=update_after_first_page)

    assert seen == [ids[0], ids[1], ids[2], ids[4], ids[5], ids[0], ids[3]]
    assert set(seen) == set(ids)


def test_offset_paging_skips_under_the_same_updates_which_the_cursor_avoids(emsp_partner: Any) -> None:
    """Why the cursor: the spec's offset walk loses an object when a served one moves to the end."""
    locations = [LocationFactory() for _ in range(6)]
    client = emsp_partner.client()

    seen = _ids(client.get(LOCATIONS, {"limit": 2}))
    _touch(locations[0], 1)
    for offset in (2, 4, 6):
        seen += _ids(client.get(LOCATIONS, {"limit": 2, "offset": offset}))

    assert locations[2].ocpi_id not in seen  # shifted from offset 2 to offset 1: skipped


def test_lists_in_creation_order_serve_each_object_exactly_once_despite_updates(cpo_partner: Any) -> None:
    Party.objects.get_or_create(role=Role.EMSP, country_code="NL", party_id="EXA", defaults={"name": "Example eMSP"})
    tokens = [TokenFactory() for _ in range(5)]

    def update(page: int) -> None:
        Token.objects.filter(pk__in=[tokens[0].pk, tokens[4].pk]).update(
            last_updated=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
        )
        Token.objects.filter(pk=tokens[1].pk).delete() if page == 2 else None

    seen = _walk(cpo_partner.client(), f"{TOKENS}?limit=2", key="uid", between=update)

    assert seen == [t.ocpi_id for t in tokens]  # tokens[1] was served on page 1, before its deletion


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"), id="signature-changed"),
        pytest.param(lambda c: "x" + c[1:], id="payload-changed"),
        pytest.param(lambda c: c[: len(c) // 2], id="truncated"),
        pytest.param(lambda c: "not-a-cursor", id="garbage"),
        pytest.param(lambda c: (c * 20)[:1500], id="too-long"),
    ],
)
def test_a_tampered_cursor_is_2001_naming_the_parameter(emsp_partner: Any, tamper: Any) -> None:
    for _ in range(3):
        LocationFactory()
    client = emsp_partner.client()
    query = _query(_next(client.get(LOCATIONS, {"limit": 1})) or "")

    response = client.get(LOCATIONS, {**query, "cursor": tamper(query["cursor"])})

    assert response.status_code != 500
    assert response.json()["status_code"] == 2001
    assert "cursor" in response.json()["status_message"]


@override_settings(ROOT_URLCONF="tests.ocpi.urls")
def test_a_cursor_of_another_list_is_2001(emsp_partner: Any) -> None:
    for i in range(3):
        MessageLog.objects.create(direction="IN", method="X", url=f"u{i}")
        LocationFactory()
    client = emsp_partner.client()
    log_cursor = _query(_next(client.get("/ocpi/test/list", {"limit": 1})) or "")["cursor"]

    response = client.get(LOCATIONS, {"limit": 1, "cursor": log_cursor})

    assert response.json()["status_code"] == 2001
    assert "cursor" in response.json()["status_message"]


def test_offset_still_works_exactly_as_before(emsp_partner: Any) -> None:
    locations = [LocationFactory() for _ in range(5)]
    client = emsp_partner.client()

    page = client.get(LOCATIONS, {"offset": 2, "limit": 2})

    assert _ids(page) == [loc.ocpi_id for loc in locations[2:4]]
    assert page["X-Total-Count"] == "5"
    assert _query(_next(page) or "")["offset"] == "4"
    last = client.get(LOCATIONS, {"offset": 4, "limit": 2})
    assert _ids(last) == [locations[4].ocpi_id]
    assert "Link" not in last
    assert _ids(client.get(LOCATIONS, {"offset": 9})) == []


def test_total_is_exact_on_the_first_page_and_cached_on_later_pages(emsp_partner: Any) -> None:
    for _ in range(5):
        LocationFactory()
    client = emsp_partner.client()
    first = client.get(LOCATIONS, {"limit": 2})
    assert first["X-Total-Count"] == "5"
    LocationFactory()  # a new location: at the end of the list

    with CaptureQueriesContext(connection) as queries:
        second = client.get(_next(first))
    assert second["X-Total-Count"] == "5"  # cached for OCPI_TOTAL_COUNT_TTL seconds
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert client.get(LOCATIONS, {"limit": 2})["X-Total-Count"] == "6"  # a first page counts again
    assert client.get(LOCATIONS, {"limit": 2, "offset": 2})["X-Total-Count"] == "6"


def test_total_is_cached_per_filter(emsp_partner: Any) -> None:
    locations = [LocationFactory() for _ in range(5)]
    client = emsp_partner.client()
    since = locations[2].last_updated.strftime("%Y-%m-%dT%H:%M:%SZ")

    assert client.get(LOCATIONS, {"limit": 1})["X-Total-Count"] == "5"
    windowed = client.get(LOCATIONS, {"limit": 1, "date_from": since})
    assert windowed["X-Total-Count"] == "3"
    assert client.get(_next(windowed))["X-Total-Count"] == "3"
    assert client.get(LOCATIONS, {"limit": 1, "offset": 1})["X-Total-Count"] == "5"


@override_settings(OCPI_TOTAL_COUNT_TTL=0)
def test_total_without_cache_is_counted_on_every_page(emsp_partner: Any) -> None:
    for _ in range(3):
        LocationFactory()
    client = emsp_partner.client()
    first = client.get(LOCATIONS, {"limit": 1})
    LocationFactory()

    assert client.get(_next(first))["X-Total-Count"] == "4"


def test_the_cursor_keeps_the_date_window(emsp_partner: Any) -> None:
    locations = [LocationFactory() for _ in range(8)]
    ids = [loc.ocpi_id for loc in locations]
    stamp = [loc.last_updated.strftime("%Y-%m-%dT%H:%M:%SZ") for loc in locations]
    client = emsp_partner.client()

    seen = _walk(client, f"{LOCATIONS}?limit=2&date_from={stamp[1]}&date_to={stamp[6]}")
    assert seen == ids[1:6]  # from inclusive, to exclusive, on every page

    first = client.get(LOCATIONS, {"limit": 2, "date_from": stamp[1], "date_to": stamp[6]})
    query = _query(_next(first) or "")
    assert query["date_from"] == stamp[1] and query["date_to"] == stamp[6]  # the Link repeats the window
    only_cursor = client.get(LOCATIONS, {"limit": 10, "cursor": query["cursor"]})
    assert _ids(only_cursor) == ids[3:6]  # the cursor alone carries the window
    other = client.get(LOCATIONS, {"limit": 2, "cursor": query["cursor"], "date_from": stamp[0]})
    assert other.json()["status_code"] == 2001
    assert "cursor" in other.json()["status_message"]


def test_the_cursor_keeps_a_sub_second_window(emsp_partner: Any) -> None:
    base = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    locations = [LocationFactory(last_updated=base + dt.timedelta(milliseconds=250 * i)) for i in range(6)]
    client = emsp_partner.client()

    seen = _walk(client, f"{LOCATIONS}?limit=1&date_from=2025-01-01T00:00:00.250Z&date_to=2025-01-01T00:00:01Z")

    assert seen == [loc.ocpi_id for loc in locations[1:4]]


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
def test_every_version_route_pages_by_cursor(emsp_partner: Any, version: str) -> None:
    locations = [location_with_evses(evses=1) for _ in range(5)]
    client = emsp_partner.client()

    first = client.get(f"/ocpi/cpo/{version}/locations", {"limit": 2})
    assert _next(first).startswith(f"/ocpi/cpo/{version}/locations?")
    seen = _walk(client, f"/ocpi/cpo/{version}/locations?limit=2")

    assert seen == [loc.ocpi_id for loc in locations]


def test_a_deep_cursor_page_reads_no_more_rows_than_the_first(emsp_partner: Any) -> None:
    """The page query starts after the cursor's key (a row comparison), it does not skip rows by OFFSET."""
    for _ in range(6):
        LocationFactory()
    client = emsp_partner.client()
    first = client.get(LOCATIONS, {"limit": 2})

    with CaptureQueriesContext(connection) as queries:
        client.get(_next(first))

    page_sql = [q["sql"] for q in queries.captured_queries if "locations_location" in q["sql"] and "LIMIT" in q["sql"]]
    assert page_sql and all("OFFSET" not in sql for sql in page_sql)
