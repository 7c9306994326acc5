"""The admin map of locations (issue 13): works offline, one query for its data, markers coloured by status."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext

from locations.admin_map import BLUE, GREEN, GREY, RED, location_colour, parse_bbox
from locations.constants import EVSEStatus

from .factories import EvseFactory, LocationFactory

MAP = "/admin/locations/location/map/"
DATA = "/admin/locations/location/map/data/"


@pytest.fixture
def staff(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


def _locations(count: int, *, statuses: tuple[str, ...] = (EVSEStatus.AVAILABLE, EVSEStatus.CHARGING)) -> None:
    for n in range(count):
        location = LocationFactory(latitude=f"52.{n:05d}", longitude=f"4.{n:05d}")
        for status in statuses:
            EvseFactory(location=location, status=status)


@pytest.mark.django_db
def test_the_map_page_loads_only_local_assets_and_lists_the_locations_without_javascript(staff):
    location = LocationFactory(ocpi_id="MAP-1", name="Centraal", latitude="52.37893", longitude="4.90004")
    EvseFactory(location=location, status=EVSEStatus.UNKNOWN)
    EvseFactory(location=location, status=EVSEStatus.OUTOFORDER)

    response = staff.get(MAP)

    assert response.status_code == 200
    page = response.content.decode()
    assets = re.findall(r'<script[^>]*\ssrc="([^"]+)"', page) + re.findall(r'<link[^>]*\shref="([^"]+)"', page)
    assert "/static/locations/vendor/leaflet/leaflet.js" in assets
    assert "/static/locations/vendor/leaflet/leaflet.css" in assets
    assert all(url.startswith("/") and not url.startswith("//") for url in assets), assets  # no CDN
    for path in ("leaflet.js", "leaflet.css", "LICENSE", "images/marker-icon.png"):
        assert finders.find(f"locations/vendor/leaflet/{path}"), path
    assert finders.find("locations/location_map.js")
    assert "Leaflet 1.9.4" in Path(finders.find("locations/vendor/leaflet/leaflet.js")).read_text()[:200]
    # The table under the map: coordinates and status counts, a link to the location (no tiles, no JS needed).
    table = page[page.index('id="location-table"') :]
    assert "Centraal" in table and "52.37893" in table and "4.90004" in table
    assert f'href="/admin/locations/location/{location.pk}/change/"' in table
    assert re.search(r"<td class=\"num\">2</td><td class=\"num\">0</td>\s*<td class=\"num\">0</td>", table)
    config = json.loads(re.search(r'id="location-map-config"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert config["dataUrl"] == DATA
    assert config["tileUrl"].startswith("https://tile.openstreetmap.org/")
    assert "OpenStreetMap" in config["attribution"]


@pytest.mark.django_db
def test_tiles_can_be_switched_off(staff, settings):
    settings.OCPI_MAP_TILE_URL = ""
    page = staff.get(MAP).content.decode()
    config = json.loads(re.search(r'id="location-map-config"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert config["tileUrl"] == ""


@pytest.mark.django_db
def test_the_map_is_linked_from_the_menu_and_the_locations_list(staff):
    page = staff.get("/admin/locations/location/").content.decode()
    assert f'href="{MAP}" id="location-map-link"' in page
    menu = page[page.index('id="backoffice-menu"') :]
    assert f'<a href="{MAP}">Locations map</a>' in menu[:2000]


@pytest.mark.django_db
def test_the_map_is_for_staff_only(client):
    assert client.get(MAP).status_code == 302
    assert client.get(DATA).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("count", [5, 50])
def test_the_map_data_is_one_query_whatever_the_number_of_locations(staff, count):
    _locations(count)
    staff.get(DATA)  # the session and user are read once per request too: warm nothing else up

    with CaptureQueriesContext(connection) as queries:
        response = staff.get(DATA)

    data = response.json()
    assert len(data["locations"]) == count
    location_queries = [q["sql"] for q in queries.captured_queries if "locations_location" in q["sql"]]
    assert len(location_queries) == 1, location_queries
    assert len(queries.captured_queries) <= 3  # + session and user
    assert data["locations"][0]["counts"] == {"AVAILABLE": 1, "CHARGING": 1}


@pytest.mark.django_db
def test_the_map_page_query_count_does_not_grow_with_locations(staff):
    _locations(3)
    with CaptureQueriesContext(connection) as few:
        staff.get(MAP)
    _locations(30)
    with CaptureQueriesContext(connection) as many:
        staff.get(MAP)
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_markers_are_coloured_by_evse_status(staff):
    cases = {
        "GREEN": ((EVSEStatus.AVAILABLE, EVSEStatus.OUTOFORDER), GREEN),  # a driver can charge there
        "BLUE": ((EVSEStatus.CHARGING, EVSEStatus.INOPERATIVE), BLUE),
        "RED": ((EVSEStatus.OUTOFORDER, EVSEStatus.INOPERATIVE), RED),
        "GREY": ((EVSEStatus.BLOCKED, EVSEStatus.RESERVED, EVSEStatus.UNKNOWN), GREY),
        "EMPTY": ((), GREY),
    }
    for ocpi_id, (statuses, _) in cases.items():
        location = LocationFactory(ocpi_id=ocpi_id)
        for status in statuses:
            EvseFactory(location=location, status=status)

    rows = {row["ocpi_id"]: row for row in staff.get(DATA).json()["locations"]}

    assert {ocpi_id: row["colour"] for ocpi_id, row in rows.items()} == {k: v[1] for k, v in cases.items()}
    assert rows["RED"]["counts"] == {"INOPERATIVE": 1, "OUTOFORDER": 1}
    assert (GREEN, BLUE, RED, GREY) == ("#2e7d32", "#1565c0", "#c62828", "#757575")
    assert location_colour({}) == GREY


@pytest.mark.django_db
def test_the_map_data_is_limited_to_the_bounding_box_and_a_maximum(staff, settings):
    LocationFactory(ocpi_id="AMS", latitude="52.37000", longitude="4.89000")
    LocationFactory(ocpi_id="BER", latitude="52.52000", longitude="13.40000")
    LocationFactory(ocpi_id="FIJ", latitude="-17.71300", longitude="178.06500")

    def ids(query: str = "") -> list[str]:
        return sorted(row["ocpi_id"] for row in staff.get(DATA + query).json()["locations"])

    assert ids() == ["AMS", "BER", "FIJ"]
    assert ids("?bbox=50,3,54,7") == ["AMS"]
    assert ids("?bbox=-20,170,-10,-170") == ["FIJ"]  # across the antimeridian
    assert ids("?bbox=nonsense") == ["AMS", "BER", "FIJ"]
    settings.OCPI_MAP_MAX_LOCATIONS = 2
    data = staff.get(DATA).json()
    assert len(data["locations"]) == 2 and data["truncated"] is True
    assert parse_bbox("1,2,3") is None and parse_bbox("10,0,5,1") is None
