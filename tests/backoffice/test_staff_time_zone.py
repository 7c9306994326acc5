"""Issue 13: admin pages show times in STAFF_TIME_ZONE (default Europe/Amsterdam) and say so; the OCPI API
keeps UTC; the message log lists times with seconds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.test import Client, override_settings
from django.utils import timezone

from partners.models import MessageLog

AT = datetime(2025, 7, 1, 10, 15, 42, tzinfo=UTC)  # 12:15:42 in Amsterdam (CEST)


def _logged(at: datetime) -> MessageLog:
    row = MessageLog.objects.create(direction="IN", method="GET", url="/ocpi/versions")
    MessageLog.objects.filter(pk=row.pk).update(created_at=at)
    return row


def test_default_staff_time_zone_is_amsterdam() -> None:
    assert settings.STAFF_TIME_ZONE == "Europe/Amsterdam"


def test_message_log_shows_local_time_with_seconds_and_names_the_zone(admin_client: Client) -> None:
    _logged(AT)
    html = admin_client.get("/admin/partners/messagelog/").content.decode()
    assert "2025-07-01 12:15:42 CEST" in html
    assert "Europe/Amsterdam" in html  # the note above the list


@override_settings(STAFF_TIME_ZONE="America/New_York")
def test_the_zone_is_configurable(admin_client: Client) -> None:
    _logged(AT)
    html = admin_client.get("/admin/partners/messagelog/").content.decode()
    assert "2025-07-01 06:15:42 EDT" in html
    assert "America/New_York" in html


def test_record_pages_name_the_zone(admin_client: Client) -> None:
    row = _logged(AT)
    html = admin_client.get(f"/admin/partners/messagelog/{row.pk}/change/").content.decode()
    assert 'id="staff-time-zone"' in html and "Europe/Amsterdam" in html


def test_the_zone_is_active_for_admin_requests_only(client: Client, db: Any) -> None:
    from backoffice.middleware import StaffTimeZoneMiddleware

    seen: list[str] = []

    def view(request: Any) -> Any:
        seen.append(str(timezone.get_current_timezone()))
        return None

    middleware = StaffTimeZoneMiddleware(view)
    for path in ("/admin/partners/", "/ocpi/versions"):
        request = type("R", (), {"path": path})()
        middleware(request)
    assert seen == ["Europe/Amsterdam", "UTC"]
    assert str(timezone.get_current_timezone()) == "UTC"  # deactivated after the request
