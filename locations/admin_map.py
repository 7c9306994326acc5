"""The staff map of locations (admin page + its JSON data), and the EVSE status colours the admin shows.

Leaflet comes from our own static files (vendored: locations/static/locations/vendor/leaflet/), never a CDN;
OpenStreetMap tiles are used when they load (OCPI_MAP_TILE_URL, empty for none). Without tiles the markers
are still drawn and the table under the map lists the locations with their coordinates and EVSE status counts.

The data is one query whatever the number of locations: the status counts are COUNT(...) FILTER aggregates
of one GROUP BY, limited to the map's bounding box and to OCPI_MAP_MAX_LOCATIONS rows.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Count, FloatField, Q, QuerySet
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from .constants import EVSEStatus
from .models import Location

# --- Status colours -----------------------------------------------------------------------------------

GREEN, BLUE, RED, GREY = "#2e7d32", "#1565c0", "#c62828", "#757575"
STATUS_COLOURS: dict[str, str] = {
    EVSEStatus.AVAILABLE: GREEN,
    EVSEStatus.CHARGING: BLUE,
    EVSEStatus.OUTOFORDER: RED,
    EVSEStatus.INOPERATIVE: RED,
}
LEGEND = (
    (GREEN, "Available"),
    (BLUE, "Charging (none available)"),
    (RED, "Out of order / inoperative (none available or charging)"),
    (GREY, "Other: blocked, reserved, planned, removed, unknown, no EVSE"),
)


def status_colour(status: str) -> str:
    """AVAILABLE green, CHARGING blue, OUTOFORDER/INOPERATIVE red, every other status grey."""
    return STATUS_COLOURS.get(status, GREY)


def location_colour(counts: dict[str, int]) -> str:
    """A location's marker: green if a driver can charge there now, else blue if charging, else red if broken."""
    if counts.get(EVSEStatus.AVAILABLE):
        return GREEN
    if counts.get(EVSEStatus.CHARGING):
        return BLUE
    if counts.get(EVSEStatus.OUTOFORDER) or counts.get(EVSEStatus.INOPERATIVE):
        return RED
    return GREY


def status_badge(status: str) -> str:
    return format_html(
        '<span class="evse-status" style="background:{};color:#fff;padding:1px 6px;border-radius:8px;'
        'font-size:0.75rem;white-space:nowrap">{}</span>',
        status_colour(status),
        status,
    )


def status_dots(statuses: list[str]) -> str:
    """One coloured dot per EVSE (title: its status), for the location list."""
    return format_html_join(
        "",
        '<span title="{}" style="display:inline-block;width:10px;height:10px;margin-right:2px;'
        'border-radius:50%;background:{}"></span>',
        ((status, status_colour(status)) for status in statuses),
    )


# --- Data ---------------------------------------------------------------------------------------------

_COUNT_KEYS = {status: f"n_{status.lower()}" for status in EVSEStatus.values}
BBox = tuple[float, float, float, float]  # south, west, north, east


def parse_bbox(value: str | None) -> BBox | None:
    """ "south,west,north,east" in degrees (Leaflet's getBounds order); None when absent or unreadable."""
    if not value:
        return None
    try:
        south, west, north, east = (float(part) for part in value.split(","))
    except ValueError:
        return None
    if not (-90 <= south <= north <= 90) or not (-180 <= west <= 180 and -180 <= east <= 180):
        return None
    return south, west, north, east


def map_queryset(*, bbox: BBox | None = None) -> QuerySet[Location]:
    """Locations (ours and partners') with one COUNT per EVSE status: one query, no row per EVSE."""
    queryset = Location.objects.all()
    if bbox is not None:
        south, west, north, east = bbox
        queryset = queryset.annotate(lat=Cast("latitude", FloatField()), lng=Cast("longitude", FloatField())).filter(
            lat__gte=south, lat__lte=north
        )
        if west <= east:
            queryset = queryset.filter(lng__gte=west, lng__lte=east)
        else:  # the box crosses the antimeridian
            queryset = queryset.filter(Q(lng__gte=west) | Q(lng__lte=east))
    counts = {key: Count("evses", filter=Q(evses__status=status)) for status, key in _COUNT_KEYS.items()}
    return queryset.annotate(**counts).order_by("pk")


def map_rows(*, bbox: BBox | None = None, limit: int | None = None) -> tuple[list[dict[str, Any]], bool]:
    """(rows, truncated): at most `limit` locations (OCPI_MAP_MAX_LOCATIONS) as plain dicts."""
    limit = limit or int(getattr(settings, "OCPI_MAP_MAX_LOCATIONS", 5000))
    fields = ("pk", "ocpi_id", "name", "city", "country_code", "party_id", "latitude", "longitude", "publish")
    values = list(map_queryset(bbox=bbox).values(*fields, *_COUNT_KEYS.values())[: limit + 1])
    rows = []
    for value in values[:limit]:
        counts = {status: value[key] for status, key in _COUNT_KEYS.items()}
        rows.append(
            {
                **{name: value[name] for name in fields},
                "counts": counts,
                "evses": sum(counts.values()),
                "broken": counts[EVSEStatus.OUTOFORDER] + counts[EVSEStatus.INOPERATIVE],
                "other": sum(n for status, n in counts.items() if status not in STATUS_COLOURS),
                "colour": location_colour(counts),
            }
        )
    return rows, len(values) > limit


def _floats(row: dict[str, Any]) -> tuple[float, float] | None:
    try:
        return float(row["latitude"]), float(row["longitude"])
    except (TypeError, ValueError):
        return None


# --- Views (mounted by LocationAdmin.get_urls, wrapped in admin_site.admin_view) -----------------------


def map_data_view(request: HttpRequest) -> JsonResponse:
    """GET ?bbox=south,west,north,east -> {"locations": [...], "truncated": bool} (one query)."""
    rows, truncated = map_rows(bbox=parse_bbox(request.GET.get("bbox")))
    change_url = reverse("admin:locations_location_change", args=[0]).replace("/0/", "/{id}/")
    out = []
    for row in rows:
        point = _floats(row)
        if point is None:
            continue
        out.append(
            {
                "id": row["pk"],
                "ocpi_id": row["ocpi_id"],
                "name": row["name"],
                "city": row["city"],
                "party": f"{row['country_code']}/{row['party_id']}",
                "lat": point[0],
                "lng": point[1],
                "colour": row["colour"],
                "counts": {status: n for status, n in row["counts"].items() if n},
            }
        )
    return JsonResponse({"locations": out, "truncated": truncated, "change_url": change_url})


TABLE_ROWS = 500  # the table under the map (the map itself asks for the rows of its view)


def map_page_view(request: HttpRequest, admin_site: Any, model_admin: Any) -> HttpResponse:
    rows, truncated = map_rows(limit=TABLE_ROWS)
    tile_url = getattr(settings, "OCPI_MAP_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    config = {
        "dataUrl": reverse("admin:locations_location_map_data"),
        "changeUrl": reverse("admin:locations_location_change", args=[0]).replace("/0/", "/{id}/"),
        "tileUrl": tile_url,
        "attribution": getattr(
            settings,
            "OCPI_MAP_TILE_ATTRIBUTION",
            '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
        ),
    }
    context = {
        **admin_site.each_context(request),
        "title": "Map of locations",
        "opts": model_admin.model._meta,
        "rows": rows,
        "truncated": truncated,
        "table_limit": TABLE_ROWS,
        "legend": LEGEND,
        "map_config": config,
    }
    return TemplateResponse(request, "admin/locations/location/map.html", context)
