"""The staff dashboard: one page with the state of the platform, each figure a link into the filtered admin list.

Mounted at /admin/dashboard/ (backoffice/urls.py) and linked from the admin index. Every figure is one
aggregate query over an indexed column or a small table, so the page stays fast however large the sessions,
CDRs and outbox tables grow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from cdrs.models import Cdr
from locations.models import EVSE, Location
from partners.models import ClientInfo, ConnectionStatus, OutboxDelivery, OutboxState, Partner, PartnerState
from partners.outbox.services import WAITING_FOR_PARTY
from sessions.models import ChargingSession, SessionStatus

# --- Dashboard ------------------------------------------------------------------------------------


def _changelist(model: str, **params: Any) -> str:
    """Admin changelist URL of `app_label.model` filtered by `params` ("" when that admin is not installed)."""
    app_label, model_name = model.split(".")
    try:
        url = reverse(f"admin:{app_label}_{model_name}_changelist")
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode(params)}" if params else url


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _outbox_list(**params: Any) -> str:
    return _changelist("partners.outboxdelivery", **params)


def dashboard_partners() -> list[dict[str, Any]]:
    """Partners (a small table) with their pending / failed / waiting pushes: one grouped outbox query over the
    open and failed rows only (the (state, ...) index), never over the delivered history."""
    counts: dict[tuple[int, str], int] = {}
    rows = (
        OutboxDelivery.objects.filter(state__in=[OutboxState.PENDING, OutboxState.FAILED, OutboxState.DEAD])
        .values_list("partner_id", "state")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for partner_id, state, n in rows:
        counts[(partner_id, state)] = n
    waiting = dict(
        OutboxDelivery.objects.filter(state=OutboxState.PENDING, note__startswith=WAITING_FOR_PARTY)
        .values_list("partner_id")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("partner_id", "n")
    )
    partners = Partner.objects.prefetch_related("roles").order_by("name", "pk")
    return [
        {
            "partner": partner,
            "url": reverse("admin:partners_partner_change", args=[partner.pk]),
            "roles": ", ".join(f"{r.role} {r.country_code}/{r.party_id}" for r in partner.roles.all()),
            "pending": counts.get((partner.pk, OutboxState.PENDING), 0),
            "failed": counts.get((partner.pk, OutboxState.FAILED), 0) + counts.get((partner.pk, OutboxState.DEAD), 0),
            "waiting": waiting.get(partner.pk, 0),
            "pending_url": _outbox_list(state__exact="PENDING", partner__id__exact=partner.pk),
            "failed_url": _outbox_list(state__exact="FAILED", partner__id__exact=partner.pk),
        }
        for partner in partners
    ]


def _grouped(queryset: QuerySet, field: str, choices: Any) -> dict[str, int]:
    found = dict(queryset.values_list(field).annotate(n=Count("pk")).order_by().values_list(field, "n"))
    return {value: found.get(value, 0) for value in choices}


def _active_sessions(evse_statuses: dict[str, int]) -> dict[str, Any]:
    """ "Sessions active" split the way it compares with the EVSE statuses (issue 13): the sessions at our charge
    points are the ones our EVSEs' CHARGING count is about; sessions of our drivers at partner CPOs run on
    their EVSEs, which this platform does not count. One query.

    The two figures of our side can still differ a little: an EVSE reports its status on its own (a car
    plugged in but not yet authorized, or a session the charge point has not reported yet shows CHARGING with
    no session; a session suspended by the car keeps the session ACTIVE)."""
    active = ChargingSession.objects.filter(status=SessionStatus.ACTIVE).aggregate(
        ours=Count("pk", filter=Q(received_from__isnull=True)),
        roaming=Count("pk", filter=Q(received_from__isnull=False)),
    )
    sessions = "charging_sessions.chargingsession"
    return {
        "sessions_active": active["ours"] + active["roaming"],
        "sessions_active_url": _changelist(sessions, status__exact=SessionStatus.ACTIVE),
        "sessions_active_ours": active["ours"],
        "sessions_active_ours_url": _changelist(sessions, status__exact=SessionStatus.ACTIVE, ownership="ours"),
        "sessions_active_roaming": active["roaming"],
        "sessions_active_roaming_url": _changelist(sessions, status__exact=SessionStatus.ACTIVE, ownership="received"),
        "evses_charging": evse_statuses.get("CHARGING", 0),
        "evses_charging_url": _changelist("locations.evse", status__exact="CHARGING", origin="ours"),
    }


def dashboard_figures(*, now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the dashboard, with the admin list each one links to."""
    now = now or timezone.now()
    month_start = _month_start(now)
    partner_states = _grouped(Partner.objects.all(), "state", PartnerState.values)
    outbox = _grouped(
        OutboxDelivery.objects.filter(state__in=[OutboxState.PENDING, OutboxState.FAILED, OutboxState.DEAD]),
        "state",
        [OutboxState.PENDING, OutboxState.FAILED, OutboxState.DEAD],
    )
    waiting = OutboxDelivery.objects.filter(state=OutboxState.PENDING, note__startswith=WAITING_FOR_PARTY).count()
    ours = EVSE.objects.filter(location__in=Location.objects.owned_by_us().values("pk"))  # our CPOs' EVSEs
    evse_statuses = dict(
        ours.values_list("status").annotate(n=Count("pk")).order_by("status").values_list("status", "n")
    )
    client_infos = _grouped(ClientInfo.objects.all(), "status", ConnectionStatus.values)
    return {
        "now": now,
        "month_start": month_start,
        "partner_states": [
            (label, partner_states[value], _changelist("partners.partner", state__exact=value))
            for value, label in PartnerState.choices
        ],
        "partners": dashboard_partners(),
        "outbox": [
            ("Pending", outbox[OutboxState.PENDING], _changelist("partners.outboxdelivery", state__exact="PENDING")),
            (
                "Waiting for a party behind a hub",
                waiting,
                _changelist("partners.outboxdelivery", state__exact="PENDING", note__startswith=WAITING_FOR_PARTY),
            ),
            ("Failed", outbox[OutboxState.FAILED], _changelist("partners.outboxdelivery", state__exact="FAILED")),
            ("Dead-lettered", outbox[OutboxState.DEAD], _changelist("partners.outboxdelivery", state__exact="DEAD")),
        ],
        **_active_sessions(evse_statuses),
        "cdrs_month": Cdr.objects.filter(end_date_time__gte=month_start).count(),
        "cdrs_month_url": _changelist("cdrs.cdr", end_date_time__gte=month_start.isoformat()),
        "evse_statuses": [
            (status, n, _changelist("locations.evse", status__exact=status, origin="ours"))
            for status, n in evse_statuses.items()
        ],
        "client_infos": [
            (status, n, _changelist("partners.clientinfo", status__exact=status)) for status, n in client_infos.items()
        ],
    }


@staff_member_required
def dashboard_view(request: HttpRequest) -> HttpResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        **dashboard_figures(),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
