"""Back-office admin for CDRs: read-only (CDRs are immutable, cdrs.md 1), with page totals and a credit action.

Issued CDRs (our CPO) and received ones (partner CPOs -> our eMSP) share one list; the "direction" filter
separates them. The totals under the list are one aggregate query over the filtered queryset, per currency.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils import timezone
from django.utils.html import format_html

from ocpi_platform.admin_confirm import confirmed_action
from ocpi_platform.admin_format import money, truncated
from partners.models import Party, Role

from .models import Cdr, CdrQuerySet
from .reconciliation import cdr_totals
from .services import CdrError, cdr_credit
from .views_finance import cdr_export_response


class PartyFilter(admin.SimpleListFilter):
    """The CPO party that issued the CDR: ours and the partners' (distinct values over an indexed pair)."""

    title = "party"
    parameter_name = "party"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        ours = {f"{p.country_code}/{p.party_id}" for p in Party.objects.filter(role=Role.CPO)}
        pairs = Cdr.objects.order_by("country_code", "party_id").values_list("country_code", "party_id").distinct()
        values = sorted(ours | {f"{cc}/{pid}" for cc, pid in pairs})
        return [(value, f"{value} (ours)" if value in ours else value) for value in values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> QuerySet[Cdr]:
        value = self.value()
        if not value or "/" not in value:
            return queryset
        country_code, party_id = value.split("/", 1)
        return cast(CdrQuerySet, queryset).for_party(country_code, party_id)  # the changelist's Cdr.objects


class DirectionFilter(admin.SimpleListFilter):
    title = "direction"
    parameter_name = "direction"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("issued", "Issued by our CPO"), ("received", "Received from partner CPOs")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> QuerySet[Cdr]:
        cdrs = cast(CdrQuerySet, queryset)  # the changelist's Cdr.objects
        if self.value() == "issued":
            return cdrs.issued()
        if self.value() == "received":
            return cdrs.received()
        return queryset


class PeriodFilter(admin.SimpleListFilter):
    """Session end (end_date_time)."""

    title = "session end"
    parameter_name = "ended"
    DAYS = {"1": 1, "7": 7, "31": 31, "92": 92, "365": 365}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("1", "Last 24 hours"), ("7", "Last 7 days"), ("31", "Last 31 days"), ("92", "Last 3 months"),
                ("365", "Last 12 months")]  # fmt: skip

    def queryset(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> QuerySet[Cdr]:
        days = self.DAYS.get(self.value() or "")
        if days is None:
            return queryset
        return queryset.filter(end_date_time__gte=timezone.now() - timedelta(days=days))


class LocationFilter(admin.SimpleListFilter):
    """Location id (CdrLocation.id): the list offers the locations of the latest CDRs; any id works in the URL
    (?location=...)."""

    title = "location id"
    parameter_name = "location"
    RECENT = 500  # CDRs looked at for the choices (newest first, by primary key: no scan of the table)
    MAX_CHOICES = 30

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        recent = Cdr.objects.order_by("-pk").values_list("location_id", flat=True)[: self.RECENT]
        choices = sorted(dict.fromkeys(recent))[: self.MAX_CHOICES]
        value = self.value()
        if value and value not in choices:
            choices.append(value)
        return [(location_id, location_id) for location_id in choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> QuerySet[Cdr]:
        if not self.value():
            return queryset
        return queryset.filter(location_id__iexact=self.value())


class CreditFilter(admin.SimpleListFilter):
    title = "credit"
    parameter_name = "credit"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("credit", "Credit CDRs"), ("credited", "Credited (cancelled)"), ("regular", "Regular, not credited")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> QuerySet[Cdr]:
        if self.value() == "credit":
            return queryset.filter(credit=True)
        if self.value() == "credited":
            return queryset.filter(credited_at__isnull=False)
        if self.value() == "regular":
            return queryset.exclude(credit=True).filter(credited_at__isnull=True)
        return queryset


def _pretty(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False, default=str))


@admin.register(Cdr)
class CdrAdmin(admin.ModelAdmin):
    # The key columns fit 1400 px (issue 13): cost, currency and partner always visible; location, token and
    # the rest are on the CDR's page.
    # The key columns first (they stay visible at 1400 px with the menu and the filters open: tests/browser).
    list_display = (
        "cdr_id",
        "end_date_time",
        "partner",
        "cost_excl_vat",
        "cost_incl_vat",
        "currency",
        "energy_kwh",
        "direction",
        "credit",
        "tariff_check_status",
    )
    list_filter = (
        PartyFilter,
        DirectionFilter,
        PeriodFilter,
        LocationFilter,
        "tariff_check_status",
        CreditFilter,
    )
    search_fields = ("=ocpi_id", "=session_id", "=token_uid", "^ocpi_id", "^session_id")
    list_select_related = ("received_from", "token_owner_partner")
    show_full_result_count = False
    ordering = ("-end_date_time", "-pk")
    actions = ("create_credit_cdr", "export_selected_csv", "export_selected_xlsx")
    readonly_fields = (
        "cdr_token_pretty",
        "cdr_location_pretty",
        "tariffs_pretty",
        "charging_periods_pretty",
        "signed_data_pretty",
    )
    fieldsets = (
        (
            "CDR",
            {
                "fields": (
                    ("country_code", "party_id", "ocpi_id"),
                    ("start_date_time", "end_date_time"),
                    ("session_id", "auth_method", "authorization_reference"),
                    "cdr_token_pretty",
                    "cdr_location_pretty",
                    ("meter_id", "currency"),
                    ("remark", "invoice_reference_id"),
                    ("credit", "credit_reference_id", "home_charging_compensation"),
                    "last_updated",
                )
            },
        ),
        (
            "Totals",
            {
                "fields": (
                    ("total_cost_excl_vat", "total_cost_incl_vat"),
                    ("total_fixed_cost_excl_vat", "total_fixed_cost_incl_vat"),
                    ("total_energy", "total_energy_cost_excl_vat", "total_energy_cost_incl_vat"),
                    ("total_time", "total_time_cost_excl_vat", "total_time_cost_incl_vat"),
                    ("total_parking_time", "total_parking_cost_excl_vat", "total_parking_cost_incl_vat"),
                    ("total_reservation_cost_excl_vat", "total_reservation_cost_incl_vat"),
                )
            },
        ),
        ("Tariffs and periods", {"fields": ("tariffs_pretty", "charging_periods_pretty", "signed_data_pretty")}),
        (
            "Back office",
            {
                "fields": (
                    ("received_from", "token_owner_partner", "charging_session"),
                    ("pushed_location", "pushed_at", "credited_at"),
                    ("tariff_check_status", "expected_total_cost_excl_vat", "expected_total_cost_incl_vat"),
                    "tariff_check_note",
                    "created_at",
                )
            },
        ),
    )

    # --- Read-only: CDRs are immutable; corrections go through the credit action -----------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Cdr | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Cdr | None = None) -> bool:
        return False

    def has_credit_permission(self, request: HttpRequest) -> bool:
        """The rows are read-only, but issuing a credit CDR needs the change permission (issue 13)."""
        return request.user.has_perm("cdrs.change_cdr")

    # --- Columns --------------------------------------------------------------------------------------

    @admin.display(description="CDR", ordering="ocpi_id")
    def cdr_id(self, obj: Cdr) -> str:
        return truncated(str(obj), 28, keep_end=True)

    @admin.display(description="direction")
    def direction(self, obj: Cdr) -> str:
        return "received" if obj.is_received else "issued"

    @admin.display(description="partner")
    def partner(self, obj: Cdr) -> str:
        partner = obj.received_from if obj.is_received else obj.token_owner_partner
        return truncated(partner, 24) if partner else "-"

    @admin.display(description="kWh", ordering="total_energy")
    def energy_kwh(self, obj: Cdr) -> str:
        return f"{obj.total_energy:.3f}"

    @admin.display(description="cost excl. VAT", ordering="total_cost_excl_vat")
    def cost_excl_vat(self, obj: Cdr) -> str:
        return money(obj.total_cost_excl_vat)  # a credit CDR's cost is negative (cdrs.md 1.1)

    @admin.display(description="cost incl. VAT", ordering="total_cost_incl_vat")
    def cost_incl_vat(self, obj: Cdr) -> str:
        return money(obj.total_cost_incl_vat)

    @admin.display(description="CdrToken")
    def cdr_token_pretty(self, obj: Cdr) -> str:
        return _pretty(obj.cdr_token)

    @admin.display(description="CdrLocation")
    def cdr_location_pretty(self, obj: Cdr) -> str:
        return _pretty(obj.cdr_location)

    @admin.display(description="tariffs")
    def tariffs_pretty(self, obj: Cdr) -> str:
        return _pretty(obj.tariffs)

    @admin.display(description="charging periods")
    def charging_periods_pretty(self, obj: Cdr) -> str:
        return _pretty(obj.charging_periods)

    @admin.display(description="signed data")
    def signed_data_pretty(self, obj: Cdr) -> str:
        return _pretty(obj.signed_data) if obj.signed_data else "-"

    # --- Totals of the filtered list ------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        changelist = context.get("cl") if context else None
        if context and changelist is not None:
            # The same sums as the monthly reconciliation (credit CDRs count negative, their energy subtracted).
            context["cdr_totals"] = cdr_totals(changelist.queryset)
        return response

    # --- Actions --------------------------------------------------------------------------------------

    @confirmed_action(description="Create credit CDR (cancels the selected CDRs we issued)", permissions=["credit"])
    def create_credit_cdr(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> None:
        done = 0
        for cdr in queryset.order_by("pk"):
            try:
                credit = cdr_credit(cdr=cdr)
            except CdrError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            done += 1
            self.message_user(request, f"Credit CDR {credit} created for {cdr}.", messages.SUCCESS)
        if not done:
            self.message_user(request, "No credit CDR was created.", messages.WARNING)

    # --- Finance exports (cdrs/exports.py; the export and reconciliation pages are linked in object tools) ---

    def _export_selected(self, queryset: QuerySet[Cdr], fmt: str) -> HttpResponseBase:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return cdr_export_response(  # exactly the selected CDRs, local times in UTC
            queryset=queryset.order_by("end_date_time", "pk"),
            tz=ZoneInfo("UTC"),
            fmt=fmt,
            filename=f"cdrs_selected_{stamp}",
        )

    @admin.action(description="Export selected (CSV)")
    def export_selected_csv(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> HttpResponseBase:
        return self._export_selected(queryset, "csv")

    @admin.action(description="Export selected (XLSX)")
    def export_selected_xlsx(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> HttpResponseBase:
        return self._export_selected(queryset, "xlsx")
