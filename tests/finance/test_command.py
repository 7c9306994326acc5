"""manage.py export_cdrs: output file, progress on stderr, clear errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from cdrs.exports import COLUMN_NAMES
from partners.models import Partner
from tests.finance.conftest import build_cdr, save_cdrs

pytestmark = pytest.mark.django_db


@pytest.fixture
def january(emsp_a: Partner, cpo_c: Partner) -> None:
    save_cdrs(
        *(build_cdr(end=dt.datetime(2026, 1, 1 + i, tzinfo=dt.UTC), token_owner=emsp_a) for i in range(25)),
        build_cdr(ocpi_id="RECV", end=dt.datetime(2026, 1, 20, tzinfo=dt.UTC), received_from=cpo_c),
        build_cdr(ocpi_id="NYE", end=dt.datetime(2025, 12, 31, 23, 30, tzinfo=dt.UTC), token_owner=emsp_a),
        build_cdr(ocpi_id="FEB", end=dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC), token_owner=emsp_a),
    )


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export_cdrs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_export_cdrs_writes_csv_with_progress(january: None, tmp_path: Path) -> None:
    target = tmp_path / "jan.csv"

    period = ["--from", "2026-01-01", "--to", "2026-02-01", "--tz", "Europe/Amsterdam"]
    out, err = run(*period, "--format", "csv", "--out", str(target), "--direction", "cpo", "--partner", "Alpha eMSP",
                   "--chunk-size", "7")  # fmt: skip

    with target.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    # local January: NYE (1 January 00:30 in Amsterdam) is in, FEB (1 February 00:30) is out
    assert len(rows) == 26 and rows[0]["cdr_id"] == "NYE" and "FEB" not in {row["cdr_id"] for row in rows}
    assert {row["direction"] for row in rows} == {"cpo"}
    lines = err.splitlines()
    assert lines[0] == "26 CDRs to export (csv, Europe/Amsterdam)"
    assert lines[-1].startswith("[##############################] 100%  26/26 CDRs")
    assert lines[-1].endswith("rows/s")
    assert [line.split()[2] for line in lines[1:]] == ["7/26", "14/26", "21/26", "26/26"]  # every 7-row chunk
    assert out.startswith(f"Exported 26 CDRs to {target} in ")
    assert [p.name for p in tmp_path.iterdir()] == ["jan.csv"]  # no partial file left


def test_export_cdrs_writes_xlsx_by_suffix(january: None, tmp_path: Path) -> None:
    target = tmp_path / "jan.xlsx"

    run("--from", "2026-01-01", "--to", "2026-02-01", "--out", str(target), "--direction", "emsp")

    rows = list(openpyxl.load_workbook(target)["CDRs"].iter_rows(values_only=True))
    assert rows[0] == COLUMN_NAMES
    assert [row[0] for row in rows[1:]] == ["RECV"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-01-01", "--to", "2026-01-01"], "The period is empty"),
        (["--from", "2026-02-01", "--to", "2026-01-01"], "The period is reversed"),
        (["--from", "2026-01-01", "--to", "2026-02-01", "--partner", "Nobody"], "Unknown partner 'Nobody'"),
        (["--from", "2026-01-01", "--to", "2026-02-01", "--tz", "Europe/Atlantis"], "Unknown time zone"),
        (["--from", "2026-01-01", "--to", "2026-02-01", "--format", "pdf"], "Unknown format 'pdf': use csv or xlsx."),
        (["--from", "January", "--to", "2026-02-01"], "'from' is not a date"),
    ],
)
def test_export_cdrs_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args, "--out", str(tmp_path / "x.csv"))
    assert list(tmp_path.iterdir()) == []


def test_export_cdrs_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        run("--from", "2026-01-01", "--to", "2026-02-01", "--out", str(tmp_path / "no" / "x.csv"))


def test_export_cdrs_removes_the_partial_file_on_failure(january: None, tmp_path: Path, mocker: Any) -> None:
    mocker.patch("cdrs.management.commands.export_cdrs.cdr_export_write_csv", side_effect=RuntimeError("disk full"))

    with pytest.raises(RuntimeError):
        run("--from", "2026-01-01", "--to", "2026-02-01", "--out", str(tmp_path / "x.csv"))
    assert list(tmp_path.iterdir()) == []
