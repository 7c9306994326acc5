"""Staff finance pages (export, reconciliation, its CSV), the CDR changelist links and the export actions."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse

from cdrs.exports import COLUMN_NAMES
from cdrs.models import Cdr
from partners.models import Partner
from tests.finance.conftest import build_cdr, save_cdrs

pytestmark = pytest.mark.django_db

EXPORT = reverse("cdrs_finance:cdr-export")
RECONCILIATION = reverse("cdrs_finance:cdr-reconciliation")
RECONCILIATION_CSV = reverse("cdrs_finance:cdr-reconciliation-csv")
CHANGELIST = reverse("admin:cdrs_cdr_changelist")
JANUARY = {"date_from": "2026-01-01", "date_to": "2026-02-01", "tz": "Europe/Amsterdam"}


@pytest.fixture
def cdrs(emsp_a: Partner, cpo_c: Partner) -> list[Cdr]:
    return save_cdrs(
        build_cdr(ocpi_id="JAN", end=dt.datetime(2026, 1, 10, tzinfo=dt.UTC), token_owner=emsp_a, cost_excl="10.005"),
        build_cdr(ocpi_id="JAN-LATE", end=dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC), token_owner=emsp_a),
        build_cdr(ocpi_id="RECV", end=dt.datetime(2026, 1, 12, tzinfo=dt.UTC), received_from=cpo_c, cost_excl="7"),
    )


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


@pytest.mark.parametrize("url", [EXPORT, RECONCILIATION, RECONCILIATION_CSV])
def test_finance_pages_redirect_anonymous_to_login(client: Any, url: str) -> None:
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", [EXPORT, RECONCILIATION, RECONCILIATION_CSV])
def test_finance_pages_need_the_view_cdr_permission(client: Any, django_user_model: Any, url: str) -> None:
    client.force_login(django_user_model.objects.create_user("clerk", password="pw", is_staff=True))

    assert client.get(url).status_code == 403


def test_export_page_shows_the_form(staff_client: Any) -> None:
    response = staff_client.get(EXPORT)

    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="cdr-export-form"' in content
    for name in ("date_from", "date_to", "tz", "direction", "partner", "party", "currency", "format"):
        assert f'name="{name}"' in content
    assert '<option value="Europe/Amsterdam">' in content  # time zone suggestions


def test_export_page_streams_csv(staff_client: Any, cdrs: list[Cdr]) -> None:
    response = staff_client.get(EXPORT, {**JANUARY, "direction": "cpo", "format": "csv"})

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="cdrs_20260101_20260201_cpo.csv"'
    rows = csv_rows(b"".join(response.streaming_content))
    assert [row["cdr_id"] for row in rows] == ["JAN"]  # JAN-LATE ended on 1 February in Amsterdam
    assert rows[0]["total_cost_excl_vat"] == "10.005"
    assert rows[0]["start_local"] == "2026-01-09T23:30:00+01:00"


def test_export_page_serves_xlsx(staff_client: Any, cdrs: list[Cdr]) -> None:
    response = staff_client.get(EXPORT, {**JANUARY, "partner": "Gamma CPO", "format": "xlsx"})

    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    assert "spreadsheetml" in response["Content-Type"]
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))["CDRs"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMN_NAMES
    assert [row[0] for row in rows[1:]] == ["RECV"]
    assert rows[1][COLUMN_NAMES.index("total_cost_excl_vat")] == 7


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({**JANUARY, "date_to": "2026-01-01"}, "The period is empty"),
        ({**JANUARY, "date_from": "2026-03-01"}, "The period is reversed"),
        ({**JANUARY, "partner": "Nobody"}, "Unknown partner &#x27;Nobody&#x27;"),
        ({**JANUARY, "tz": "Mars/Olympus"}, "Unknown time zone &#x27;Mars/Olympus&#x27;"),
        ({**JANUARY, "format": "pdf"}, "Unknown format &#x27;pdf&#x27;: use csv or xlsx."),
        ({**JANUARY, "date_from": "yesterday"}, "Enter a valid date."),
        ({"format": "csv"}, "This field is required."),
    ],
)
def test_export_page_bad_input_is_a_form_error(staff_client: Any, query: dict[str, str], message: str) -> None:
    response = staff_client.get(EXPORT, {"format": "csv", **query})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert message in response.content.decode()
    assert 'class="errorlist' in response.content.decode()


def test_reconciliation_page(staff_client: Any, cdrs: list[Cdr]) -> None:
    response = staff_client.get(RECONCILIATION, {**JANUARY, "direction": "cpo"})

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(row.partner, row.cdrs, row.amount_excl_vat) for row in rows] == [("Alpha eMSP", 1, Decimal("10.005"))]
    content = response.content.decode()
    assert 'id="reconciliation"' in content and "Alpha eMSP" in content
    assert "Revenue excl. VAT" in content
    assert 'id="chart-EUR"' in content and 'class="bar"' in content
    assert "10.01" in content  # 10.005 to the cent, half up
    assert f"{RECONCILIATION_CSV}?" in content


def test_reconciliation_page_defaults_and_bad_input(staff_client: Any) -> None:
    default = staff_client.get(RECONCILIATION)
    bad = staff_client.get(RECONCILIATION, {**JANUARY, "tz": "Nowhere", "direction": "sideways"})

    assert default.status_code == 200 and default.context["rows"] == []
    assert "No CDRs in this period." in default.content.decode()
    assert bad.status_code == 200 and bad.context["rows"] is None
    assert "Unknown time zone" in bad.content.decode()
    assert "Select a valid choice" in bad.content.decode()


def test_reconciliation_csv_download(staff_client: Any, cdrs: list[Cdr], cpo_c: Partner) -> None:
    response = staff_client.get(RECONCILIATION_CSV, {**JANUARY, "direction": "emsp"})

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="reconciliation_20260101_20260201_emsp.csv"'
    (row,) = csv_rows(response.content)
    assert row == {
        "month": "2026-01", "direction": "emsp", "partner_id": str(cpo_c.pk), "partner": "Gamma CPO",
        "currency": "EUR", "cdrs": "1", "energy_kwh": "20.00", "amount_excl_vat": "7.00", "amount_incl_vat": "12.10",
        "credits": "0", "credits_excl_vat": "0.00", "credits_incl_vat": "0.00",
    }  # fmt: skip
    assert staff_client.get(RECONCILIATION_CSV, {**JANUARY, "date_to": "2025-01-01"}).status_code == 400


def test_cdr_changelist_links_to_the_finance_pages(admin_client: Any) -> None:
    content = admin_client.get(CHANGELIST).content.decode()

    assert f'href="{EXPORT}"' in content
    assert f'href="{RECONCILIATION}"' in content


def test_admin_action_exports_selected_csv(admin_client: Any, cdrs: list[Cdr]) -> None:
    selected = [cdrs[0].pk, cdrs[2].pk]

    response = admin_client.post(CHANGELIST, {"action": "export_selected_csv", "_selected_action": selected})

    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Disposition"].startswith('attachment; filename="cdrs_selected_')
    rows = csv_rows(b"".join(response.streaming_content))
    assert [row["cdr_id"] for row in rows] == ["JAN", "RECV"]
    assert rows[1]["direction"] == "emsp"


def test_admin_action_exports_selected_xlsx(admin_client: Any, cdrs: list[Cdr]) -> None:
    response = admin_client.post(CHANGELIST, {"action": "export_selected_xlsx", "_selected_action": [cdrs[1].pk]})

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["JAN-LATE"]
