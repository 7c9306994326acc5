"""Staff pages show times in the staff time zone (issue 13); the OCPI API stays in UTC (OCPI 2.2.1 types.md 1.2:
DateTime is UTC on the wire)."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

ADMIN_PREFIX = "/admin/"


def staff_time_zone() -> ZoneInfo:
    """The zone of settings.STAFF_TIME_ZONE (env STAFF_TIME_ZONE; default: the zone of the first OCPI party's
    country, Europe/Amsterdam when it has several or is unknown: ocpi_platform/timezones.py)."""
    return ZoneInfo(settings.STAFF_TIME_ZONE)


class StaffTimeZoneMiddleware:
    """Activates the staff time zone for /admin/ requests only, so forms and lists read local times."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(ADMIN_PREFIX):
            return self.get_response(request)
        timezone.activate(staff_time_zone())
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
