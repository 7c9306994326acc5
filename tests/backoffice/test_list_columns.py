"""Issue 13, lists at 1400 px: the CDR, session, partner, outbox and message log lists show a short set of key
columns (CDR cost, currency, partner; message log statuses; outbox error) and shorten long values (full value in
the title, and on the detail page). The pixel check itself is the browser tests'; here each list's columns are
checked and rendered with long values, and the widest text per column is bounded."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from html import unescape

import pytest
from django.contrib import admin
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from cdrs.models import Cdr
from partners.models import MessageLog, OutboxDelivery, OutboxState, Partner, PartnerState
from sessions.models import ChargingSession
from tests.conftest import make_registered_partner
from tests.finance.conftest import build_cdr, save_cdrs
from tests.sessions.factories import ChargingSessionFactory

pytestmark = pytest.mark.django_db

LONG_NAME = "Very Long Partner Name Roaming Platform International Holding B.V."
LONG_ERROR = "PUT https://partner.example.com/ocpi/emsp/2.2.1/locations/NL/EXA/LOC1 -> HTTP 503 " + "x" * 200
# About what fits beside the filter sidebar at 1400 px in the admin's 13 px font (~7.5 px a character, plus
# cell padding): the longest cell text of every column together.
TEXT_BUDGET = 150


def _cells(html: str) -> dict[str, list[str]]:
    """Visible text of each list cell, per column (field-<name> classes)."""
    cells: dict[str, list[str]] = {}
    for name, inner in re.findall(r'<t[dh] class="field-([\w]+)[^"]*"[^>]*>(.*?)</t[dh]>', html, re.S):
        cells.setdefault(name, []).append(unescape(re.sub(r"<[^>]+>", "", inner)).strip())
    return cells


def _widest(cells: dict[str, list[str]]) -> int:
    """The longest text of each column (header names are short), summed."""
    return sum(max(len(text) for text in texts) for texts in cells.values())


@pytest.mark.parametrize(
    ("model", "key_columns"),
    [
        (Cdr, {"cost_excl_vat", "cost_incl_vat", "currency", "partner"}),
        (ChargingSession, {"status", "cost", "energy_kwh"}),
        (Partner, {"connection_status", "outbox_failed_dead"}),
        (OutboxDelivery, {"state", "short_error"}),
        (MessageLog, {"http_status", "ocpi_status"}),
    ],
)
def test_key_columns_are_listed_and_few(model: type, key_columns: set[str]) -> None:
    list_display = admin.site._registry[model].list_display
    assert key_columns <= set(list_display)
    assert len(list_display) <= 10


def test_cdr_list_renders_cost_currency_partner_within_budget(admin_client: Client) -> None:
    partner = Partner.objects.create(name=LONG_NAME, state=PartnerState.REGISTERED)
    end = datetime(2026, 3, 10, 12, tzinfo=UTC)
    save_cdrs(build_cdr(ocpi_id="CDR-" + "9" * 32, end=end, token_owner=partner, cost_excl="1234.5678"))
    cells = _cells(admin_client.get("/admin/cdrs/cdr/").content.decode())
    assert cells["cost_excl_vat"] == ["1234.57"]
    assert cells["currency"] == ["EUR"]
    assert cells["partner"][0].startswith("Very Long Partner") and cells["partner"][0].endswith("…")
    assert _widest(cells) <= TEXT_BUDGET, cells


def test_session_list_within_budget(admin_client: Client) -> None:
    ChargingSessionFactory(
        ocpi_id="S" * 36, location_id="LOCATION-" + "7" * 27, evse_uid="EVSE-" + "8" * 31,
        total_cost_excl_vat=Decimal("2.345"),
    )  # fmt: skip
    cells = _cells(admin_client.get("/admin/charging_sessions/chargingsession/").content.decode())
    assert cells["cost"] == ["2.35 EUR"]
    assert cells["location_evse"][0].startswith("…")
    assert _widest(cells) <= TEXT_BUDGET, cells


def test_partner_list_within_budget(admin_client: Client) -> None:
    roles = [("CPO", "NL", f"C{k:02d}") for k in range(8)]
    make_registered_partner(LONG_NAME, roles)
    cells = _cells(admin_client.get("/admin/partners/partner/").content.decode())
    assert cells["role_list"][0].endswith("…")
    assert "messages_link" not in cells  # on the partner's page
    assert _widest(cells) <= TEXT_BUDGET, cells


def test_outbox_list_shows_the_error_within_budget(admin_client: Client) -> None:
    partner = make_registered_partner(LONG_NAME, [("EMSP", "DE", "EMP")]).partner
    OutboxDelivery.objects.create(
        partner=partner, module="locations", object_id=12345678, state=OutboxState.DEAD,
        next_attempt_at=timezone.now(), last_error=LONG_ERROR,
    )  # fmt: skip
    html = admin_client.get("/admin/partners/outboxdelivery/").content.decode()
    cells = _cells(html)
    assert cells["short_error"][0].startswith("PUT https://partner.example.com/ocpi/")
    assert f'title="{escape(LONG_ERROR)}"' in html  # the whole error on hover
    assert _widest(cells) <= TEXT_BUDGET, cells


def test_message_log_shows_statuses_before_the_url_within_budget(admin_client: Client) -> None:
    partner = make_registered_partner(LONG_NAME, [("EMSP", "DE", "EMP")]).partner
    url = "https://partner.example.com/ocpi/emsp/2.2.1/locations/NL/EXA/" + "LOC" * 20 + "?offset=0&limit=100"
    MessageLog.objects.create(
        direction="OUT", method="GET", url=url, partner=partner, http_status=503, ocpi_status=3000, duration_ms=12
    )
    html = admin_client.get("/admin/partners/messagelog/").content.decode()
    cells = _cells(html)
    assert (cells["http_status"], cells["ocpi_status"]) == (["503"], ["3000"])
    assert cells["short_url"][0].startswith("…") and cells["short_url"][0].endswith("?offset=0&limit=100")
    headers = re.findall(r'<th scope="col" class="[^"]*column-(\w+)', html)
    assert headers.index("ocpi_status") < headers.index("short_url")
    assert _widest(cells) <= TEXT_BUDGET, cells
