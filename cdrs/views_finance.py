"""Staff finance pages under /admin/finance/: the CDR export page and the monthly reconciliation (plus its CSV).

Thin edge over cdrs.exports / cdrs.reconciliation: parse the form, call them, shape the response. Bad input is
a form error on the page (never a 500). Staff only, and the user needs permission to view CDRs.
"""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, available_timezones

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from .exports import (
    FORMATS,
    CdrExportFilters,
    ExportDirection,
    ExportInputError,
    cdr_export_csv_chunks,
    cdr_export_filters_build,
    cdr_export_queryset,
    cdr_export_rows,
    cdr_export_write_xlsx,
)
from .models import Cdr
from .reconciliation import (
    cdr_reconciliation,
    reconciliation_chart,
    reconciliation_csv_chunks,
    reconciliation_totals,
)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- Responses (also used by the admin action) --------------------------------------------------------------


def cdr_export_response(*, queryset: QuerySet[Cdr], tz: ZoneInfo, fmt: str, filename: str) -> HttpResponseBase:
    """The export of `queryset` as a download: CSV streamed row chunk by row chunk (StreamingHttpResponse over a
    server-side cursor), XLSX written to an anonymous temporary file first (a zip needs its end to be written
    last) and then served from it; the file disappears when the response is closed."""
    if fmt == "csv":
        response = StreamingHttpResponse(
            cdr_export_csv_chunks(cdr_export_rows(queryset=queryset, tz=tz)), content_type=CSV_CONTENT_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
        return response
    if fmt == "xlsx":
        spool = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - closed by FileResponse
        cdr_export_write_xlsx(queryset=queryset, tz=tz, target=spool)
        spool.seek(0)
        return FileResponse(spool, as_attachment=True, filename=f"{filename}.xlsx", content_type=XLSX_CONTENT_TYPE)
    raise ValueError(f"unknown export format {fmt!r}")


def export_filename(filters: CdrExportFilters, prefix: str = "cdrs") -> str:
    parts = [prefix]
    if filters.date_from is not None:
        parts.append(filters.date_from.strftime("%Y%m%d"))
    if filters.date_to is not None:
        parts.append(filters.date_to.strftime("%Y%m%d"))
    if filters.direction:
        parts.append(filters.direction)
    return "_".join(parts)


# --- Forms --------------------------------------------------------------------------------------------------


def _first_of_month(day: date, months_back: int = 0) -> date:
    year, month = day.year, day.month - months_back
    while month < 1:
        year, month = year - 1, month + 12
    return date(year, month, 1)


class FinanceFilterForm(forms.Form):
    """Period (local dates in `tz`, end exclusive), time zone, direction, partner, party, currency."""

    date_from = forms.DateField(label="From (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        label="To (exclusive)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Session end before this date.",
    )
    tz = forms.CharField(
        label="Time zone",
        initial="UTC",
        required=False,
        widget=forms.TextInput(attrs={"list": "finance-timezones"}),
        help_text="IANA name; dates, local times and months are in this zone.",
    )
    direction = forms.ChoiceField(choices=[("", "Both"), *ExportDirection.choices], required=False, label="Direction")
    partner = forms.CharField(required=False, help_text="Name or id. cpo: the token owner; emsp: the sender.")
    party = forms.CharField(required=False, label="CPO party", help_text="COUNTRY_CODE/PARTY_ID, e.g. NL/EXA.")
    currency = forms.CharField(required=False, max_length=3, help_text="ISO 4217, e.g. EUR.")

    filters: CdrExportFilters

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        try:
            self.filters = cdr_export_filters_build(
                date_from=data.get("date_from"),
                date_to=data.get("date_to"),
                tz=data.get("tz") or "UTC",
                direction=data.get("direction") or "",
                partner=data.get("partner") or None,
                party=data.get("party") or "",
                currency=data.get("currency") or "",
            )
        except ExportInputError as exc:
            for name, message in exc.errors.items():
                if name not in self.errors:  # a field error of its own (required, bad date) says it already
                    self.add_error(name if name in self.fields else None, message)
        return data


class ExportForm(FinanceFilterForm):
    format = forms.ChoiceField(
        choices=[(fmt, fmt.upper()) for fmt in FORMATS],
        initial="csv",
        error_messages={"invalid_choice": "Unknown format '%(value)s': use csv or xlsx."},
    )


def _context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {
        **admin.site.each_context(request),
        "title": title,
        "opts": Cdr._meta,
        "timezones": sorted(available_timezones()),
        **extra,
    }


def _require_view_permission(request: HttpRequest) -> None:
    if not request.user.has_perm("cdrs.view_cdr"):
        raise PermissionDenied


# --- Views --------------------------------------------------------------------------------------------------


@staff_member_required
def cdr_export_view(request: HttpRequest) -> HttpResponseBase:
    """Export form; submitting it (GET, so the link can be bookmarked) downloads the file."""
    _require_view_permission(request)
    if "format" in request.GET:
        form = ExportForm(request.GET)
        if form.is_valid():
            queryset = cdr_export_queryset(filters=form.filters)
            return cdr_export_response(
                queryset=queryset,
                tz=form.filters.tz,
                fmt=form.cleaned_data["format"],
                filename=export_filename(form.filters),
            )
    else:
        today = timezone.localdate()
        form = ExportForm(initial={"date_from": _first_of_month(today, 1), "date_to": _first_of_month(today)})
    return render(request, "admin/cdrs/finance/export.html", _context(request, "Export CDRs", form=form))


def _reconciliation_form(request: HttpRequest) -> FinanceFilterForm:
    if "date_from" in request.GET or "date_to" in request.GET:
        return FinanceFilterForm(request.GET)
    today = timezone.localdate()
    first = _first_of_month(today, 11)
    following = _first_of_month(today.replace(day=28) + timedelta(days=4))
    return FinanceFilterForm(
        {"date_from": first.isoformat(), "date_to": following.isoformat(), "tz": "UTC", "direction": "cpo"}
    )


@staff_member_required
def cdr_reconciliation_view(request: HttpRequest) -> HttpResponse:
    """Per partner and month: CDRs, energy, revenue (cpo) or cost (emsp), credits; a bar chart per currency."""
    _require_view_permission(request)
    form = _reconciliation_form(request)
    rows = totals = None
    charts: dict[str, Any] = {}
    if form.is_valid():
        rows = cdr_reconciliation(filters=form.filters)
        totals = reconciliation_totals(rows)
        charts = reconciliation_chart(rows)
    context = _context(
        request,
        "Monthly reconciliation",
        form=form,
        rows=rows,
        totals=totals,
        charts=charts,
        query=form.data.urlencode() if isinstance(form.data, QueryDict) else urlencode(form.data),
    )
    return render(request, "admin/cdrs/finance/reconciliation.html", context)


@staff_member_required
def cdr_reconciliation_csv_view(request: HttpRequest) -> HttpResponse:
    """The reconciliation table as a CSV download (same query string as the page)."""
    _require_view_permission(request)
    form = _reconciliation_form(request)
    if not form.is_valid():
        context = _context(request, "Monthly reconciliation", form=form, rows=None, totals=None, charts={})
        return render(request, "admin/cdrs/finance/reconciliation.html", context, status=400)
    rows = cdr_reconciliation(filters=form.filters)
    response = HttpResponse("".join(reconciliation_csv_chunks(rows)), content_type=CSV_CONTENT_TYPE)
    filename = export_filename(form.filters, prefix="reconciliation")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
