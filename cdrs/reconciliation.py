"""Monthly reconciliation of CDRs per partner: what we invoice (cpo: CDRs our CPO issued, per token owner) and
what partner CPOs invoice us (emsp: CDRs received, per sender), per month of session end in a chosen time zone.

One aggregate query (GROUP BY direction, partner, month, currency) over exactly the CDRs the export selects for
the same filters, so every amount equals the sum of the exported rows:

* cdrs: all CDRs of the group, credit CDRs included; credits: the credit CDRs among them;
* amount_excl_vat / amount_incl_vat: net sum of total_cost (a credit CDR's total_cost is negative, cdrs.md 1.1),
  i.e. revenue for cpo, cost for emsp; total_cost_incl_vat is optional in OCPI, missing values count as 0;
* credits_excl_vat / credits_incl_vat: the sum of total_cost of the credit CDRs (negative);
* energy_kwh: net energy: a credit CDR repeats the energy of the CDR it credits (quantities stay positive), so
  its energy is subtracted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Case, CharField, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth, Upper

from .exports import CdrExportFilters, ExportDirection, cdr_export_queryset, decimal_text
from .models import Cdr

ZERO = Decimal("0")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ReconciliationRow:
    month: date  # first day of the month, in the filters' time zone
    direction: str  # ExportDirection value
    partner_id: int | None  # None: no partner (token of our own eMSP, or an unknown token owner)
    partner: str
    currency: str
    cdrs: int
    energy_kwh: Decimal
    amount_excl_vat: Decimal
    amount_incl_vat: Decimal
    credits: int
    credits_excl_vat: Decimal
    credits_incl_vat: Decimal


@dataclass(frozen=True)
class ReconciliationTotal:
    currency: str
    cdrs: int
    energy_kwh: Decimal
    amount_excl_vat: Decimal
    amount_incl_vat: Decimal
    credits: int
    credits_excl_vat: Decimal
    credits_incl_vat: Decimal


RECONCILIATION_COLUMNS: tuple[str, ...] = (
    "month",
    "direction",
    "partner_id",
    "partner",
    "currency",
    "cdrs",
    "energy_kwh",
    "amount_excl_vat",
    "amount_incl_vat",
    "credits",
    "credits_excl_vat",
    "credits_incl_vat",
)

_MONEY: DecimalField = DecimalField(max_digits=30, decimal_places=6)
_IS_CREDIT = Q(credit=True)


def _net_sums() -> dict[str, Any]:
    """The sums both the reconciliation and the CDR list totals show, so the two pages agree: every CDR counts,
    credit CDRs with their negative cost and their energy subtracted; a missing incl. VAT cost counts 0."""
    return {
        "cdrs": Count("pk"),
        "energy": Coalesce(
            Sum(Case(When(_IS_CREDIT, then=-F("total_energy")), default=F("total_energy"))),
            Value(ZERO),
            output_field=_MONEY,
        ),
        "excl": Coalesce(Sum("total_cost_excl_vat"), Value(ZERO), output_field=_MONEY),
        "incl": Coalesce(Sum("total_cost_incl_vat"), Value(ZERO), output_field=_MONEY),
        "credits": Count("pk", filter=_IS_CREDIT),
        "credits_excl": Coalesce(Sum("total_cost_excl_vat", filter=_IS_CREDIT), Value(ZERO), output_field=_MONEY),
        "credits_incl": Coalesce(Sum("total_cost_incl_vat", filter=_IS_CREDIT), Value(ZERO), output_field=_MONEY),
    }


def cdr_totals(queryset: QuerySet[Cdr]) -> list[ReconciliationTotal]:
    """Totals per currency of any CDR queryset (the admin list's filtered CDRs), by the reconciliation's rules:
    for the same CDRs they equal reconciliation_totals(cdr_reconciliation(...)). One query."""
    rows = (
        queryset.order_by()
        .annotate(r_currency=Upper("currency"))
        .values("r_currency")
        .annotate(**_net_sums())
        .order_by("r_currency")
    )
    return [
        ReconciliationTotal(
            currency=row["r_currency"],
            cdrs=row["cdrs"],
            energy_kwh=row["energy"],
            amount_excl_vat=row["excl"],
            amount_incl_vat=row["incl"],
            credits=row["credits"],
            credits_excl_vat=row["credits_excl"],
            credits_incl_vat=row["credits_incl"],
        )
        for row in rows
    ]


def cdr_reconciliation(*, filters: CdrExportFilters) -> list[ReconciliationRow]:
    """Rows per (month, direction, partner, currency) for the CDRs `filters` select; one SQL query."""
    issued = Q(received_from__isnull=True)
    queryset = (
        cdr_export_queryset(filters=filters)
        .order_by()
        .annotate(
            r_month=TruncMonth("end_date_time", tzinfo=filters.tz),
            r_direction=Case(
                When(issued, then=Value(ExportDirection.CPO.value)),
                default=Value(ExportDirection.EMSP.value),
                output_field=CharField(),
            ),
            r_partner_id=Case(When(issued, then=F("token_owner_partner_id")), default=F("received_from_id")),
            r_partner=Case(
                When(issued, then=F("token_owner_partner__name")),
                default=F("received_from__name"),
                output_field=CharField(),
            ),
            r_currency=Upper("currency"),
        )
        .values("r_month", "r_direction", "r_partner_id", "r_partner", "r_currency")
        .annotate(**_net_sums())
        .order_by("r_month", "r_direction", F("r_partner").asc(nulls_last=True), "r_partner_id", "r_currency")
    )
    return [
        ReconciliationRow(
            month=row["r_month"].astimezone(filters.tz).date(),
            direction=row["r_direction"],
            partner_id=row["r_partner_id"],
            partner=row["r_partner"] or "",
            currency=row["r_currency"],
            cdrs=row["cdrs"],
            energy_kwh=row["energy"],
            amount_excl_vat=row["excl"],
            amount_incl_vat=row["incl"],
            credits=row["credits"],
            credits_excl_vat=row["credits_excl"],
            credits_incl_vat=row["credits_incl"],
        )
        for row in queryset
    ]


def reconciliation_totals(rows: Iterable[ReconciliationRow]) -> list[ReconciliationTotal]:
    """Totals per currency (never summed across currencies), currencies in alphabetical order."""
    sums: dict[str, list] = {}
    for row in rows:
        acc = sums.setdefault(row.currency, [0, ZERO, ZERO, ZERO, 0, ZERO, ZERO])
        acc[0] += row.cdrs
        acc[1] += row.energy_kwh
        acc[2] += row.amount_excl_vat
        acc[3] += row.amount_incl_vat
        acc[4] += row.credits
        acc[5] += row.credits_excl_vat
        acc[6] += row.credits_incl_vat
    return [ReconciliationTotal(currency, *values) for currency, values in sorted(sums.items())]


@dataclass(frozen=True)
class MonthBar:
    month: date
    amount: Decimal  # net amount excl. VAT of the month, all partners
    percent: float  # bar length relative to the largest |amount| of the chart, 0..100
    negative: bool


def reconciliation_chart(rows: Iterable[ReconciliationRow]) -> dict[str, list[MonthBar]]:
    """Per currency, one bar per month: the net amount excl. VAT over all partners (and both directions when the
    filters do not pick one)."""
    per_currency: dict[str, dict[date, Decimal]] = {}
    for row in rows:
        months = per_currency.setdefault(row.currency, {})
        months[row.month] = months.get(row.month, ZERO) + row.amount_excl_vat
    charts: dict[str, list[MonthBar]] = {}
    for currency, months in sorted(per_currency.items()):
        largest = max((abs(amount) for amount in months.values()), default=ZERO) or Decimal(1)
        charts[currency] = [
            MonthBar(month=month, amount=amount, percent=float(abs(amount) / largest * 100), negative=amount < 0)
            for month, amount in sorted(months.items())
        ]
    return charts


def reconciliation_csv_chunks(rows: Iterable[ReconciliationRow]) -> Iterator[str]:
    """The reconciliation table as CSV (amounts with every stored digit, like the CDR export)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RECONCILIATION_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.month.strftime("%Y-%m"),
                row.direction,
                "" if row.partner_id is None else row.partner_id,
                row.partner,
                row.currency,
                row.cdrs,
                decimal_text(row.energy_kwh),
                decimal_text(row.amount_excl_vat),
                decimal_text(row.amount_incl_vat),
                row.credits,
                decimal_text(row.credits_excl_vat),
                decimal_text(row.credits_incl_vat),
            ]
        )
    yield buffer.getvalue()
