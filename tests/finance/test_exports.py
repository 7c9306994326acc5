"""CDR export: columns and values (CSV and XLSX), filters, streaming through a server-side cursor, bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.db import connection
from django.db.models import QuerySet

from cdrs.exports import (
    COLUMN_NAMES,
    EXPORT_COLUMNS,
    CdrExportFilters,
    ExportInputError,
    cdr_export_csv_chunks,
    cdr_export_filters_build,
    cdr_export_queryset,
    cdr_export_rows,
    cdr_export_write_xlsx,
    decimal_text,
)
from partners.models import Partner
from tests.finance.conftest import build_cdr, cdr_location, save_cdrs

pytestmark = pytest.mark.django_db

AMS = ZoneInfo("Europe/Amsterdam")
JAN31_2330Z = dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC)  # 1 February 00:30 in Amsterdam


def export_csv(filters: CdrExportFilters, **kwargs: Any) -> list[dict[str, str]]:
    rows = cdr_export_rows(queryset=cdr_export_queryset(filters=filters), tz=filters.tz)
    text = "".join(cdr_export_csv_chunks(rows, **kwargs))
    reader = csv.DictReader(io.StringIO(text))
    assert tuple(reader.fieldnames or ()) == COLUMN_NAMES
    return list(reader)


def ids(rows: list[dict[str, str]]) -> list[str]:
    return [row["cdr_id"] for row in rows]


@pytest.fixture
def full_cdr(emsp_a: Partner) -> Any:
    """An issued CDR with every Price given and awkward digits."""
    (cdr,) = save_cdrs(
        build_cdr(
            ocpi_id="CDR-FULL",
            end=JAN31_2330Z,
            minutes=90,
            token_owner=emsp_a,
            energy="20.123456",
            total_parking_time=Decimal("0.250000"),
            total_fixed_cost_excl_vat=Decimal("1.000000"),
            total_fixed_cost_incl_vat=Decimal("1.210000"),
            total_energy_cost_excl_vat=Decimal("5.030864"),
            total_energy_cost_incl_vat=Decimal("6.087345"),
            total_time_cost_excl_vat=Decimal("0.5"),
            total_time_cost_incl_vat=Decimal("0.605"),
            total_parking_cost_excl_vat=Decimal("0.25"),
            total_parking_cost_incl_vat=Decimal("0.3025"),
            total_reservation_cost_excl_vat=Decimal("0"),
            total_reservation_cost_incl_vat=Decimal("0"),
            cost_excl="6.780864",
            cost_incl="8.204845",
            tariffs=[{"id": "T-AC", "currency": "EUR"}, {"id": "T-FREE", "currency": "EUR"}],
        )
    )
    return cdr


def test_export_columns_are_documented_and_unique() -> None:
    assert len(set(COLUMN_NAMES)) == len(COLUMN_NAMES) == 35
    assert COLUMN_NAMES[:4] == ("cdr_id", "country_code", "party_id", "partner")
    assert COLUMN_NAMES[-3:] == ("tariff_ids", "credit", "credit_reference_id")
    assert all(column.description for column in EXPORT_COLUMNS)


def test_export_csv_row_values(full_cdr: Any) -> None:
    (row,) = export_csv(cdr_export_filters_build(tz="Europe/Amsterdam"))

    assert row == {
        "cdr_id": "CDR-FULL",
        "country_code": "NL",
        "party_id": "EXA",
        "partner": "Alpha eMSP",
        "direction": "cpo",
        "location_id": "LOC-1",
        "location_address": "Main street 1, 1011AB Amsterdam, NLD",
        "evse_uid": "EVSE-1",
        "evse_id": "NL*EXA*E1",
        "start_utc": "2026-01-31T22:00:00Z",
        "end_utc": "2026-01-31T23:30:00Z",
        "start_local": "2026-01-31T23:00:00+01:00",
        "end_local": "2026-02-01T00:30:00+01:00",
        "auth_method": "WHITELIST",
        "token_uid": full_cdr.token_uid,
        "contract_id": full_cdr.cdr_token["contract_id"],
        "total_energy_kwh": "20.123456",
        "total_time_h": "1.50",
        "total_parking_time_h": "0.25",
        "total_fixed_cost_excl_vat": "1.00",
        "total_fixed_cost_incl_vat": "1.21",
        "total_energy_cost_excl_vat": "5.030864",
        "total_energy_cost_incl_vat": "6.087345",
        "total_time_cost_excl_vat": "0.50",
        "total_time_cost_incl_vat": "0.605",
        "total_parking_cost_excl_vat": "0.25",
        "total_parking_cost_incl_vat": "0.3025",
        "total_reservation_cost_excl_vat": "0.00",
        "total_reservation_cost_incl_vat": "0.00",
        "total_cost_excl_vat": "6.780864",
        "total_cost_incl_vat": "8.204845",
        "currency": "EUR",
        "tariff_ids": "T-AC;T-FREE",
        "credit": "false",
        "credit_reference_id": "",
    }


def test_export_csv_received_credit_missing_prices_and_formula_text(cpo_c: Partner) -> None:
    save_cdrs(
        build_cdr(
            ocpi_id="X-C",
            end=JAN31_2330Z,
            received_from=cpo_c,
            country_code="BE",
            party_id="BEC",
            cost_excl="-6.5",
            cost_incl=None,
            credit=True,
            credit_reference_id="X",
            location=cdr_location(id="=HYPERLINK(1)", address="Rue 2", postal_code=None),
            tariffs=[],
        )
    )

    (row,) = export_csv(cdr_export_filters_build())

    assert (row["direction"], row["partner"], row["country_code"], row["party_id"]) == (
        "emsp",
        "Gamma CPO",
        "BE",
        "BEC",
    )
    assert (row["credit"], row["credit_reference_id"]) == ("true", "X")
    assert (row["total_cost_excl_vat"], row["total_cost_incl_vat"]) == ("-6.50", "")
    assert row["total_fixed_cost_excl_vat"] == row["total_parking_time_h"] == row["tariff_ids"] == ""
    assert row["location_address"] == "Rue 2, Amsterdam, NLD"
    assert row["location_id"] == "'=HYPERLINK(1)"  # not run as a formula by a spreadsheet
    assert row["start_local"] == "2026-01-31T22:00:00+00:00"  # default zone UTC


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("12.340000"), "12.34"),
        (Decimal("0.123456"), "0.123456"),
        (Decimal("20"), "20.00"),
        (Decimal("-0.100000"), "-0.10"),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("1234567.5"), "1234567.50"),
        (None, ""),
    ],
)
def test_decimal_text_keeps_every_digit_and_the_cents(value: Decimal | None, text: str) -> None:
    assert decimal_text(value) == text


def test_export_xlsx_read_back(full_cdr: Any, cpo_c: Partner, tmp_path: Any) -> None:
    save_cdrs(build_cdr(ocpi_id="FORMULA", end=JAN31_2330Z + dt.timedelta(hours=1), received_from=cpo_c,
                        location=cdr_location(evse_uid="=1+1"), cost_incl=None))  # fmt: skip
    filters = cdr_export_filters_build(tz="Europe/Amsterdam")
    path = tmp_path / "cdrs.xlsx"

    written = cdr_export_write_xlsx(queryset=cdr_export_queryset(filters=filters), tz=filters.tz, target=path)

    assert written == 2
    book = openpyxl.load_workbook(path)
    sheet = book["CDRs"]
    assert sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == COLUMN_NAMES
    assert sheet["A1"].font.bold
    first = dict(zip(COLUMN_NAMES, rows[1], strict=True))
    assert first["cdr_id"] == "CDR-FULL"
    assert first["end_utc"] == dt.datetime(2026, 1, 31, 23, 30)
    assert first["end_local"] == dt.datetime(2026, 2, 1, 0, 30)
    assert first["start_local"] == dt.datetime(2026, 1, 31, 23, 0)
    assert first["total_energy_kwh"] == pytest.approx(20.123456)
    assert first["total_cost_excl_vat"] == pytest.approx(6.780864)
    assert isinstance(first["total_cost_incl_vat"], float)
    assert first["total_reservation_cost_excl_vat"] == 0
    assert first["credit"] is False
    assert first["tariff_ids"] == "T-AC;T-FREE"
    second = dict(zip(COLUMN_NAMES, rows[2], strict=True))
    assert second["evse_uid"] == "=1+1"
    assert sheet.cell(row=3, column=COLUMN_NAMES.index("evse_uid") + 1).data_type == "s"  # text, not a formula
    assert second["total_cost_incl_vat"] is None
    assert second["direction"] == "emsp"


def test_export_xlsx_continues_on_a_new_sheet_past_the_row_limit(full_cdr: Any, tmp_path: Any, mocker: Any) -> None:
    save_cdrs(*(build_cdr(end=JAN31_2330Z + dt.timedelta(minutes=i)) for i in range(1, 5)))
    mocker.patch("cdrs.exports.XLSX_MAX_DATA_ROWS", 2)
    path = tmp_path / "split.xlsx"

    written = cdr_export_write_xlsx(queryset=cdr_export_queryset(filters=CdrExportFilters()), tz=dt.UTC, target=path)

    book = openpyxl.load_workbook(path, read_only=True)
    assert written == 5
    assert book.sheetnames == ["CDRs", "CDRs (2)", "CDRs (3)"]
    assert [len(list(sheet.rows)) for sheet in book.worksheets] == [3, 3, 2]


# --- Filters ---------------------------------------------------------------------------------------------


@pytest.fixture
def spread(emsp_a: Partner, emsp_b: Partner, cpo_c: Partner) -> None:
    """CDRs around the January/February boundary, both directions, three partners, two currencies."""
    save_cdrs(
        build_cdr(ocpi_id="JAN-UTC-LATE", end=dt.datetime(2026, 1, 31, 22, 59, tzinfo=dt.UTC), token_owner=emsp_a),
        build_cdr(ocpi_id="FEB-AMS", end=JAN31_2330Z, token_owner=emsp_a),  # February in Amsterdam, January in UTC
        build_cdr(ocpi_id="FEB-B", end=dt.datetime(2026, 2, 10, tzinfo=dt.UTC), token_owner=emsp_b),
        build_cdr(ocpi_id="FEB-GBP", end=dt.datetime(2026, 2, 11, tzinfo=dt.UTC), token_owner=emsp_b, currency="GBP"),
        build_cdr(
            ocpi_id="FEB-RECV",
            end=dt.datetime(2026, 2, 12, tzinfo=dt.UTC),
            received_from=cpo_c,
            country_code="BE",
            party_id="BEC",
        ),
        build_cdr(ocpi_id="MAR", end=dt.datetime(2026, 2, 28, 23, 0, tzinfo=dt.UTC), token_owner=emsp_a),  # March local
    )


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"date_from": "2026-02-01", "date_to": "2026-03-01"}, ["FEB-B", "FEB-GBP", "FEB-RECV", "MAR"]),
        (
            {"date_from": "2026-02-01", "date_to": "2026-03-01", "tz": "Europe/Amsterdam"},
            ["FEB-AMS", "FEB-B", "FEB-GBP", "FEB-RECV"],
        ),
        ({"date_from": "2026-01-01", "date_to": "2026-02-01", "tz": "Europe/Amsterdam"}, ["JAN-UTC-LATE"]),
        ({"date_from": "2026-01-01", "date_to": "2026-02-01"}, ["JAN-UTC-LATE", "FEB-AMS"]),
        ({"direction": "emsp"}, ["FEB-RECV"]),
        ({"direction": "cpo", "currency": "gbp"}, ["FEB-GBP"]),
        ({"direction": "cpo", "partner": "alpha emsp"}, ["JAN-UTC-LATE", "FEB-AMS", "MAR"]),
        ({"partner": "Gamma CPO"}, ["FEB-RECV"]),
        ({"direction": "cpo", "partner": "Gamma CPO"}, []),  # a sender is no token owner
        ({"party": "be/bec"}, ["FEB-RECV"]),
        ({"party": "NL/EXA", "currency": "EUR", "date_from": "2026-02-05", "date_to": "2026-02-28"}, ["FEB-B"]),
    ],
)
def test_export_filters(spread: None, filters: dict[str, str], expected: list[str]) -> None:
    assert ids(export_csv(cdr_export_filters_build(**filters))) == expected


def test_export_filter_partner_by_id(spread: None, emsp_b: Partner) -> None:
    assert ids(export_csv(cdr_export_filters_build(partner=str(emsp_b.pk)))) == ["FEB-B", "FEB-GBP"]


def test_export_local_datetime_bounds(spread: None) -> None:
    filters = cdr_export_filters_build(
        date_from="2026-02-01T00:30", date_to="2026-02-10T01:00:01", tz="Europe/Amsterdam"
    )
    assert ids(export_csv(filters)) == ["FEB-AMS", "FEB-B"]


# --- Streaming -------------------------------------------------------------------------------------------


def test_export_reads_through_iterator_in_chunks(spread: None, mocker: Any) -> None:
    spy = mocker.spy(QuerySet, "iterator")

    chunks = list(
        cdr_export_csv_chunks(
            cdr_export_rows(queryset=cdr_export_queryset(filters=CdrExportFilters()), tz=dt.UTC, chunk_size=2),
            batch_rows=2,
        )
    )

    assert spy.call_count == 1
    assert spy.call_args.kwargs == {"chunk_size": 2}
    # header + 2 rows, 2 rows, 2 rows, then the (empty) remainder
    assert [chunk.count("\r\n") for chunk in chunks] == [3, 2, 2, 0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="named (server-side) cursors are PostgreSQL's")
def test_export_uses_a_server_side_cursor_on_postgresql(spread: None) -> None:
    rows = cdr_export_rows(queryset=cdr_export_queryset(filters=CdrExportFilters()), tz=dt.UTC, chunk_size=2)
    next(rows)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
        (open_cursors,) = cursor.fetchone()
    assert open_cursors == 1
    assert len(list(rows)) == 5


# --- Bad input -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"date_from": "2026-01-01", "date_to": "2026-01-01"}, "date_to", "The period is empty"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "date_to", "The period is reversed"),
        ({"date_from": "2026-13-01"}, "date_from", "is not a date"),
        ({"tz": "Mars/Olympus"}, "tz", "Unknown time zone 'Mars/Olympus'"),
        ({"tz": "../etc/passwd"}, "tz", "Unknown time zone"),
        ({"partner": "Nobody"}, "partner", "Unknown partner 'Nobody'"),
        ({"partner": "999999"}, "partner", "Unknown partner '999999'"),
        ({"direction": "both"}, "direction", "Unknown direction 'both'"),
        ({"party": "NLEXA1"}, "party", "is not COUNTRY_CODE/PARTY_ID"),
        ({"currency": "EURO"}, "currency", "is not an ISO 4217 code"),
    ],
)
def test_export_filters_bad_input(kwargs: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(ExportInputError) as caught:
        cdr_export_filters_build(**kwargs)
    assert message in caught.value.errors[field]


def test_export_filters_report_every_bad_field() -> None:
    with pytest.raises(ExportInputError) as caught:
        cdr_export_filters_build(tz="Nowhere", partner="Nobody", currency="1")
    assert set(caught.value.errors) == {"tz", "partner", "currency"}
