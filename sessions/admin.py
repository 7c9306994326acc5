"""Staff back office for charging sessions: partners' sessions are read-only; on ours staff may correct the
status, end time, cost and a few texts (through session_update, which pushes the change to the token owner).
Sessions are never added or deleted here (they come from the chargers; OCPI has no deletion)."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from ocpi_platform.admin_confirm import confirmed_action
from ocpi_platform.admin_format import money, truncated
from partners.models import Partner
from partners.selectors import partner_list_with_endpoint

from .commands.sender import command_refresh, command_send
from .models import (
    FINAL_STATUSES,
    ChargingProfileRequest,
    ChargingSession,
    ChargingSessionQuerySet,
    CommandRequest,
    CommandType,
    Reservation,
)
from .reservations import reservation_cancel_by_cpo
from .services import session_update

# Fields of our own sessions staff may change; everything else comes from the charger or the protocol.
STAFF_EDITABLE = (
    "status",
    "end_date_time",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "meter_id",
    "authorization_reference",
)


class OwnershipFilter(admin.SimpleListFilter):
    title = "ownership"
    parameter_name = "ownership"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("ours", "Our CPO sessions"), ("received", "Received from partner CPOs")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ChargingSession]) -> QuerySet[ChargingSession]:
        if self.value() == "ours":
            return queryset.filter(received_from__isnull=True)
        if self.value() == "received":
            return cast(ChargingSessionQuerySet, queryset).received()  # the changelist's ChargingSession.objects
        return queryset


class PartyListFilter(admin.SimpleListFilter):
    title = "CPO party"
    parameter_name = "party"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        pairs = (
            ChargingSession.objects.order_by("country_code", "party_id")
            .values_list("country_code", "party_id")
            .distinct()
        )
        return [(f"{cc}/{pid}", f"{cc}/{pid}") for cc, pid in pairs]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ChargingSession]) -> QuerySet[ChargingSession]:
        value = self.value()
        if not value or "/" not in value:
            return queryset
        country_code, party_id = value.split("/", 1)
        return cast(ChargingSessionQuerySet, queryset).for_party(country_code, party_id)


@admin.register(ChargingSession)
class ChargingSessionAdmin(admin.ModelAdmin):
    # The key columns fit 1400 px (issue 13); token, last update and the rest are on the session's page.
    list_display = (
        "session_id",
        "party",
        "status",
        "location_evse",
        "energy_kwh",
        "cost",
        "start_date_time",
        "end_date_time",
        "source",
    )
    list_filter = (
        "status",
        OwnershipFilter,
        PartyListFilter,
        ("location_id", admin.AllValuesFieldListFilter),
        ("start_date_time", admin.DateFieldListFilter),
    )
    search_fields = ("ocpi_id", "token_uid", "evse_uid", "authorization_reference")
    list_select_related = ("received_from", "token_owner_partner")
    show_full_result_count = False
    date_hierarchy = "start_date_time"
    ordering = ("-start_date_time", "-pk")
    fields = (
        "country_code",
        "party_id",
        "ocpi_id",
        "status",
        "start_date_time",
        "end_date_time",
        "kwh",
        "currency",
        "total_cost_excl_vat",
        "total_cost_incl_vat",
        "cdr_token_display",
        "auth_method",
        "authorization_reference",
        "location_id",
        "evse_uid",
        "connector_id",
        "meter_id",
        "charging_periods_display",
        "charging_preferences_display",
        "token_owner_partner",
        "received_from",
        "last_updated",
        "created_at",
    )

    @admin.display(description="session", ordering="ocpi_id")
    def session_id(self, obj: ChargingSession) -> str:
        return truncated(obj.ocpi_id, 24, keep_end=True)

    @admin.display(description="party", ordering="country_code")
    def party(self, obj: ChargingSession) -> str:
        return f"{obj.country_code}/{obj.party_id}"

    @admin.display(description="location / EVSE", ordering="location_id")
    def location_evse(self, obj: ChargingSession) -> str:
        return truncated(f"{obj.location_id} / {obj.evse_uid}", 32, keep_end=True)

    @admin.display(description="kWh", ordering="kwh")
    def energy_kwh(self, obj: ChargingSession) -> str:
        return f"{obj.kwh:.3f}"

    @admin.display(description="cost excl. VAT", ordering="total_cost_excl_vat")
    def cost(self, obj: ChargingSession) -> str:
        return money(obj.total_cost_excl_vat, obj.currency)

    @admin.display(description="source")
    def source(self, obj: ChargingSession) -> str:
        return "ours" if obj.is_ours else truncated(obj.received_from, 24)

    @admin.display(description="CDR token")
    def cdr_token_display(self, obj: ChargingSession) -> str:
        return _pretty(obj.cdr_token)

    @admin.display(description="charging periods")
    def charging_periods_display(self, obj: ChargingSession) -> str:
        return _pretty(obj.charging_periods)

    @admin.display(description="charging preferences")
    def charging_preferences_display(self, obj: ChargingSession) -> str:
        return _pretty(obj.charging_preferences)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status in FINAL_STATUSES:
            return False  # a completed (or invalid) session is history: read-only (issue 13)
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is not None and obj.is_ours:
            return tuple(name for name in self.fields if name not in STAFF_EDITABLE)
        return self.fields

    def save_model(self, request: HttpRequest, obj: ChargingSession, form: Any, change: bool) -> None:
        """Our sessions change through session_update (new last_updated, push to the token owner)."""
        if not obj.is_ours:
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in STAFF_EDITABLE}
        if not changes:
            return
        try:
            session_update(session=obj, **changes)
        except ValidationError as exc:
            self.message_user(request, f"Session not changed: {'; '.join(exc.messages)}", level=messages.ERROR)


def _pretty(value: Any) -> str:
    if value in (None, [], {}):
        return "-"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=False))


# --- Commands, reservations and charging profiles ------------------------------------------------------


class SendCommandForm(forms.Form):
    """Staff: send a command to a partner CPO (until partner EVSEs get their own admin action)."""

    partner: forms.ModelChoiceField[Partner] = forms.ModelChoiceField(
        queryset=None, help_text="Partners with a commands Receiver"
    )
    command = forms.ChoiceField(choices=CommandType.choices)
    location_id = forms.CharField(max_length=36, required=False)
    evse_uid = forms.CharField(label="EVSE uid", max_length=36, required=False)
    connector_id = forms.CharField(max_length=36, required=False)
    token_uid = forms.CharField(max_length=36, required=False, help_text="One of our eMSP tokens")
    session_id = forms.CharField(max_length=36, required=False, help_text="STOP_SESSION")
    reservation_id = forms.CharField(max_length=36, required=False, help_text="RESERVE_NOW / CANCEL_RESERVATION")
    expiry_date = forms.DateTimeField(required=False, help_text="RESERVE_NOW, e.g. 2025-01-01 18:00")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        partners = partner_list_with_endpoint(identifier="commands", role="RECEIVER")
        cast(forms.ModelChoiceField, self.fields["partner"]).queryset = partners


@admin.register(CommandRequest)
class CommandRequestAdmin(admin.ModelAdmin):
    """Every command received (our CPO) or sent (our eMSP). "Add" opens the Send-a-command form."""

    list_display = (
        "created_at",
        "direction",
        "command",
        "partner",
        "location_id",
        "evse_uid",
        "session_id",
        "response_result",
        "result",
        "posted_at",
        "short_error",
    )
    list_filter = ("direction", "command", "response_result", "result", "partner")
    search_fields = ("uid", "location_id", "evse_uid", "session_id", "reservation_id", "token_uid", "response_url")
    list_select_related = ("partner",)
    raw_id_fields = ("charging_session",)
    date_hierarchy = "created_at"
    readonly_fields = tuple(
        f.name for f in CommandRequest._meta.get_fields() if f.concrete and not f.many_to_many and f.name != "id"
    )

    @admin.display(description="error")
    def short_error(self, obj: CommandRequest) -> str:
        return (obj.error or "")[:60]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a record of what was said; commands are sent through "Add" (the send form)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        command = CommandRequest.objects.filter(pk=object_id).first()
        if command is not None:
            command_refresh(command=command)  # an overdue result reads as TIMEOUT
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied  # sending a command needs charging_sessions.add_commandrequest
        form = SendCommandForm(request.POST or None)
        confirm = False
        if request.method == "POST" and form.is_valid() and request.POST.get("post") != "yes":
            confirm = True  # issue 13: an intermediate confirmation page before the command goes out
        elif request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                sent = command_send(
                    partner=data["partner"],
                    command=data["command"],
                    location_id=data["location_id"] or None,
                    evse_uid=data["evse_uid"] or None,
                    connector_id=data["connector_id"] or None,
                    token=data["token_uid"] or None,
                    session_id=data["session_id"] or None,
                    reservation_id=data["reservation_id"] or None,
                    expiry_date=data["expiry_date"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                level = messages.SUCCESS if sent.response_result == "ACCEPTED" else messages.WARNING
                self.message_user(
                    request,
                    f"{sent.command} sent: CommandResponse {sent.response_result or '-'} "
                    f"(OCPI {sent.response_status_code}){f': {sent.error}' if sent.error else ''}",
                    level=level,
                )
                return HttpResponseRedirect(reverse("admin:charging_sessions_commandrequest_change", args=[sent.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Send a command",
            "form": form,
            "confirm": confirm,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/charging_sessions/send_command.html", context)


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    """Reservations partner eMSPs made at our locations; *cancel* is ours to do (CANCELED_RESERVATION to the eMSP)."""

    list_display = ("reservation_id", "partner", "location_id", "evse_uid", "status", "expiry_date", "created_at")
    actions = ["cancel_by_cpo"]
    list_filter = ("status", "partner")
    search_fields = ("reservation_id", "location_id", "evse_uid")
    list_select_related = ("partner",)
    raw_id_fields = ("command", "session")
    readonly_fields = tuple(
        f.name for f in Reservation._meta.get_fields() if f.concrete and not f.many_to_many and f.name != "id"
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @confirmed_action(
        description="Cancel selected active reservations (the eMSP gets CANCELED_RESERVATION)", permissions=["change"]
    )
    def cancel_by_cpo(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> None:
        done = 0
        for reservation in queryset.order_by("pk"):
            try:
                reservation_cancel_by_cpo(reservation=reservation)
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, f"Cancelled {done} reservation(s); the eMSPs are told.", messages.SUCCESS)


@admin.register(ChargingProfileRequest)
class ChargingProfileRequestAdmin(admin.ModelAdmin):
    list_display = ("created_at", "action", "partner", "session_id", "response_result", "result", "posted_at")
    list_filter = ("action", "response_result", "result", "partner")
    search_fields = ("uid", "session_id", "response_url")
    list_select_related = ("partner",)
    raw_id_fields = ("charging_session",)
    readonly_fields = tuple(
        f.name
        for f in ChargingProfileRequest._meta.get_fields()
        if f.concrete and not f.many_to_many and f.name != "id"
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
