"""Monthly reconciliation: one aggregate query whose figures equal the sums of the exported rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from cdrs.exports import cdr_export_csv_chunks, cdr_export_filters_build, cdr_export_queryset, cdr_export_rows
from cdrs.reconciliation import (
    RECONCILIATION_COLUMNS,
    cdr_reconciliation,
    reconciliation_chart,
    reconciliation_csv_chunks,
    reconciliation_totals,
)
from partners.models import Partner
from tests.finance.conftest import build_cdr, save_cdrs

pytestmark = pytest.mark.django_db

ZERO = Decimal("0")
START = dt.datetime(2025, 11, 30, 12, tzinfo=dt.UTC)
MONTH_STARTS = [dt.datetime(2025, 12, 1, tzinfo=dt.UTC), dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                dt.datetime(2026, 2, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 1, tzinfo=dt.UTC)]  # fmt: skip


def awkward(rng: random.Random) -> Decimal:
    """Amounts with six decimals, many on a half cent (x.xx5), some tiny, some large."""
    kind = rng.random()
    if kind < 0.3:
        return Decimal(rng.randint(0, 99_999)) / 100 + Decimal("0.005")
    if kind < 0.4:
        return Decimal(rng.randint(1, 999)) / 1_000_000
    return Decimal(rng.randint(0, 999_999_999)) / 1_000_000


@pytest.fixture
def many_cdrs(emsp_a: Partner, emsp_b: Partner, cpo_c: Partner) -> int:
    """~400 CDRs over four months (many ending around midnight of a month's last day), both directions, three
    partners and no partner, two currencies, some without incl. VAT, and credit CDRs for one in seven."""
    rng = random.Random(20260101)
    cdrs = []
    for number in range(350):
        end = START + dt.timedelta(hours=rng.randint(0, 24 * 100), minutes=rng.choice([0, 29, 30, 59]))
        if rng.random() < 0.25:  # crowd the month boundaries: within 2 hours of a UTC month start
            month_start = rng.choice(MONTH_STARTS)
            end = month_start + dt.timedelta(minutes=rng.randint(-120, 120))
        received = rng.random() < 0.3
        owner = rng.choice([emsp_a, emsp_b, None])
        excl = awkward(rng)
        incl = None if rng.random() < 0.1 else excl * Decimal("1.21")
        incl = incl.quantize(Decimal("0.000001")) if incl is not None else None
        energy = Decimal(rng.randint(0, 120_000_000)) / 1_000_000
        fields = {
            "end": end,
            "received_from": cpo_c if received else None,
            "token_owner": None if received else owner,
            "country_code": "BE" if received else "NL",
            "party_id": "BEC" if received else "EXA",
            "currency": rng.choice(["EUR", "EUR", "EUR", "GBP"]),
            "cost_excl": excl,
            "cost_incl": incl,
            "energy": energy,
        }
        original = build_cdr(ocpi_id=f"R{number:04d}", **fields)
        cdrs.append(original)
        if number % 7 == 0:
            credit_fields = {**fields, "cost_excl": -excl, "cost_incl": None if incl is None else -incl}
            credit_fields["end"] = end + dt.timedelta(days=rng.randint(0, 40))  # credited later, maybe next month
            cdrs.append(build_cdr(ocpi_id=f"R{number:04d}-C", credit=True, credit_reference_id=original.ocpi_id,
                                  **credit_fields))  # fmt: skip
    save_cdrs(*cdrs)
    return len(cdrs)


def exported(filters: Any) -> list[dict[str, str]]:
    rows = cdr_export_rows(queryset=cdr_export_queryset(filters=filters), tz=filters.tz, chunk_size=50)
    return list(csv.DictReader(io.StringIO("".join(cdr_export_csv_chunks(rows)))))


def sums_of_export(rows: list[dict[str, str]]) -> dict[tuple, dict[str, Any]]:
    """What a spreadsheet user would compute from the export: group by local month, direction, partner, currency."""
    groups: dict[tuple, dict[str, Any]] = defaultdict(
        lambda: {
            "cdrs": 0,
            "energy": ZERO,
            "excl": ZERO,
            "incl": ZERO,
            "credits": 0,
            "credits_excl": ZERO,
            "credits_incl": ZERO,
        }
    )
    for row in rows:
        key = (row["end_local"][:7], row["direction"], row["partner"], row["currency"])
        group = groups[key]
        credit = row["credit"] == "true"
        excl = Decimal(row["total_cost_excl_vat"])
        incl = Decimal(row["total_cost_incl_vat"] or "0")
        group["cdrs"] += 1
        group["energy"] += -Decimal(row["total_energy_kwh"]) if credit else Decimal(row["total_energy_kwh"])
        group["excl"] += excl
        group["incl"] += incl
        if credit:
            group["credits"] += 1
            group["credits_excl"] += excl
            group["credits_incl"] += incl
    return dict(groups)


def as_groups(rows: list[Any]) -> dict[tuple, dict[str, Any]]:
    return {
        (row.month.strftime("%Y-%m"), row.direction, row.partner, row.currency): {
            "cdrs": row.cdrs,
            "energy": row.energy_kwh,
            "excl": row.amount_excl_vat,
            "incl": row.amount_incl_vat,
            "credits": row.credits,
            "credits_excl": row.credits_excl_vat,
            "credits_incl": row.credits_incl_vat,
        }
        for row in rows
    }


@pytest.mark.parametrize(
    "filters",
    [
        {"tz": "Europe/Amsterdam"},
        {"tz": "UTC", "direction": "cpo"},
        {"tz": "America/New_York", "direction": "emsp", "date_from": "2025-12-01", "date_to": "2026-02-01"},
        {"tz": "Europe/Amsterdam", "direction": "cpo", "partner": "Alpha eMSP", "currency": "EUR"},
    ],
)
def test_reconciliation_equals_the_sums_of_the_exported_rows(
    many_cdrs: int, filters: dict[str, str], django_assert_num_queries: Any
) -> None:
    built = cdr_export_filters_build(**filters)
    export = exported(built)

    with django_assert_num_queries(1):
        rows = cdr_reconciliation(filters=built)

    assert len(export) > 40
    assert as_groups(rows) == sums_of_export(export)  # exact, so to the cent as well
    totals = {total.currency: total for total in reconciliation_totals(rows)}
    for currency, total in totals.items():
        in_currency = [row for row in export if row["currency"] == currency]
        assert total.cdrs == len(in_currency)
        assert total.amount_excl_vat == sum((Decimal(row["total_cost_excl_vat"]) for row in in_currency), ZERO)


def test_reconciliation_months_follow_the_time_zone(emsp_a: Partner) -> None:
    save_cdrs(
        build_cdr(end=dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC), token_owner=emsp_a, cost_excl="1.005"),
        build_cdr(end=dt.datetime(2026, 1, 15, tzinfo=dt.UTC), token_owner=emsp_a, cost_excl="2"),
    )

    in_utc = cdr_reconciliation(filters=cdr_export_filters_build(tz="UTC"))
    in_amsterdam = cdr_reconciliation(filters=cdr_export_filters_build(tz="Europe/Amsterdam"))

    assert [(row.month, row.cdrs, row.amount_excl_vat) for row in in_utc] == [
        (dt.date(2026, 1, 1), 2, Decimal("3.005000"))
    ]
    assert [(row.month, row.cdrs, row.amount_excl_vat) for row in in_amsterdam] == [
        (dt.date(2026, 1, 1), 1, Decimal("2.000000")),
        (dt.date(2026, 2, 1), 1, Decimal("1.005000")),
    ]


def test_reconciliation_credits_and_net_energy(emsp_a: Partner) -> None:
    end = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    save_cdrs(
        build_cdr(ocpi_id="A", end=end, token_owner=emsp_a, cost_excl="10.50", cost_incl="12.705", energy="30"),
        build_cdr(
            ocpi_id="A-C",
            end=end,
            token_owner=emsp_a,
            cost_excl="-10.50",
            cost_incl="-12.705",
            energy="30",
            credit=True,
            credit_reference_id="A",
        ),
        build_cdr(ocpi_id="B", end=end, token_owner=emsp_a, cost_excl="9.99", cost_incl=None, energy="12.5"),
    )

    (row,) = cdr_reconciliation(filters=cdr_export_filters_build(direction="cpo"))

    assert (row.partner, row.direction, row.currency) == ("Alpha eMSP", "cpo", "EUR")
    assert (row.cdrs, row.credits) == (3, 1)
    assert row.energy_kwh == Decimal("12.5")
    assert row.amount_excl_vat == Decimal("9.99")
    assert row.amount_incl_vat == Decimal("0")
    assert (row.credits_excl_vat, row.credits_incl_vat) == (Decimal("-10.5"), Decimal("-12.705"))


def test_reconciliation_chart_and_csv(emsp_a: Partner, emsp_b: Partner) -> None:
    save_cdrs(
        build_cdr(end=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), token_owner=emsp_a, cost_excl="30"),
        build_cdr(end=dt.datetime(2026, 1, 6, tzinfo=dt.UTC), token_owner=emsp_b, cost_excl="10"),
        build_cdr(
            end=dt.datetime(2026, 2, 6, tzinfo=dt.UTC),
            token_owner=emsp_b,
            cost_excl="-20",
            credit=True,
            credit_reference_id="X",
        ),
        build_cdr(end=dt.datetime(2026, 2, 7, tzinfo=dt.UTC), token_owner=None, cost_excl="0.125", currency="GBP"),
    )
    rows = cdr_reconciliation(filters=cdr_export_filters_build())

    charts = reconciliation_chart(rows)
    assert list(charts) == ["EUR", "GBP"]
    assert [(bar.month.month, bar.amount, bar.percent, bar.negative) for bar in charts["EUR"]] == [
        (1, Decimal("40"), 100.0, False),
        (2, Decimal("-20"), 50.0, True),
    ]

    lines = list(csv.reader(io.StringIO("".join(reconciliation_csv_chunks(rows)))))
    assert tuple(lines[0]) == RECONCILIATION_COLUMNS
    assert lines[1:] == [
        ["2026-01", "cpo", str(emsp_a.pk), "Alpha eMSP", "EUR", "1", "20.00", "30.00", "12.10", "0", "0.00", "0.00"],
        ["2026-01", "cpo", str(emsp_b.pk), "Beta eMSP", "EUR", "1", "20.00", "10.00", "12.10", "0", "0.00", "0.00"],
        [
            "2026-02",
            "cpo",
            str(emsp_b.pk),
            "Beta eMSP",
            "EUR",
            "1",
            "-20.00",
            "-20.00",
            "12.10",
            "1",
            "-20.00",
            "12.10",
        ],
        ["2026-02", "cpo", "", "", "GBP", "1", "20.00", "0.125", "12.10", "0", "0.00", "0.00"],
    ]
