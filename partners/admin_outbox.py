"""Outbox admin: deliveries (filter, search by object id, retry / dead-letter) and per-partner health.

Imported by partners/admin.py. For the Partner changelist use `partner_list_with_outbox_counts(queryset)`
in get_queryset and the `outbox_*` display helpers below (`OutboxPartnerColumns`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from ocpi_platform.admin_confirm import confirmed_action
from ocpi_platform.admin_format import truncated

from .models import OutboxDelivery, OutboxPartnerState, OutboxState, OutboxSync, Partner
from .outbox import outbox_dead_letter, outbox_retry

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations  # dev dependency (django-stubs): typing only


class OutboxCounts(TypedDict):
    """The annotations OutboxPartnerStateAdmin.get_queryset puts on each OutboxPartnerState."""

    outbox_pending: int
    outbox_delivered: int
    outbox_failed: int
    outbox_dead: int
    outbox_last_success: datetime | None


def _deliveries_link(partner_id: int, label: Any, state: str | None = None) -> str:
    url = reverse("admin:partners_outboxdelivery_changelist") + f"?partner__id__exact={partner_id}"
    if state:
        url += f"&state__exact={state}"
    return format_html('<a href="{}">{}</a>', url, label)


class OutboxPartnerColumns:
    """Mixin for PartnerAdmin: list columns over `partner_list_with_outbox_counts()` annotations."""

    @admin.display(description="Outbox pending", ordering="outbox_pending")
    def outbox_pending(self, obj: Partner) -> str:
        return _deliveries_link(obj.pk, getattr(obj, "outbox_pending", "?"), OutboxState.PENDING)

    @admin.display(description="Failed / dead")
    def outbox_failed_dead(self, obj: Partner) -> str:
        failed, dead = getattr(obj, "outbox_failed", 0), getattr(obj, "outbox_dead", 0)
        return _deliveries_link(obj.pk, f"{failed} / {dead}")

    @admin.display(description="Last delivery", ordering="outbox_last_success")
    def outbox_last_success(self, obj: Partner) -> Any:
        return getattr(obj, "outbox_last_success", None)


@admin.register(OutboxDelivery)
class OutboxDeliveryAdmin(admin.ModelAdmin):
    # The key columns fit 1400 px, the error included (issue 13); the last method and times are on the page.
    # The key columns first (they stay visible at 1400 px with the menu and the filters open: tests/browser).
    list_display = (
        "id",
        "partner_name",
        "module",
        "object_id",
        "state",
        "short_error",
        "attempts",
        "next_attempt_at",
    )
    list_filter = ("state", "module", "partner")
    search_fields = ("=object_id",)
    list_select_related = ("partner",)
    show_full_result_count = False
    list_per_page = 100
    readonly_fields = [f.name for f in OutboxDelivery._meta.fields]
    actions = ["action_retry", "action_dead_letter"]

    @admin.display(description="partner", ordering="partner__name")
    def partner_name(self, obj: OutboxDelivery) -> str:
        return truncated(obj.partner, 24)

    @admin.display(description="Error")
    def short_error(self, obj: OutboxDelivery) -> str:
        return truncated(obj.last_error or obj.note, 64)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Object ids (and delivery ids) are numbers: other terms match nothing instead of erroring."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if not term.isdigit():
            return queryset.none(), False
        return queryset.filter(Q(object_id=int(term)) | Q(pk=int(term))), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        """The rows are read-only, but retrying and dead-lettering need the change permission."""
        return request.user.has_perm("partners.change_outboxdelivery")

    @confirmed_action(description="Retry now (failed or dead-lettered)", permissions=["retry"])
    def action_retry(self, request: HttpRequest, queryset: QuerySet[OutboxDelivery]) -> None:
        retried = []
        for delivery in queryset.filter(state__in=[OutboxState.FAILED, OutboxState.DEAD]):
            outbox_retry(delivery=delivery)
            retried.append(delivery.pk)
        self.message_user(request, f"{len(retried)} deliveries queued again.", messages.SUCCESS)
        if retried and settings.CELERY_TASK_ALWAYS_EAGER:
            # No worker (`make run`): each retry was sent inline, within outbox_retry; say how it went.
            states = Counter(OutboxDelivery.objects.filter(pk__in=retried).values_list("state", flat=True))
            summary = ", ".join(f"{n} {OutboxState(state).label.lower()}" for state, n in sorted(states.items()))
            self.message_user(request, f"Sent now: {summary}.", messages.INFO)

    @confirmed_action(description="Dead-letter (stop trying)", permissions=["retry"])
    def action_dead_letter(self, request: HttpRequest, queryset: QuerySet[OutboxDelivery]) -> None:
        done = 0
        for delivery in queryset.filter(state=OutboxState.PENDING):
            try:
                outbox_dead_letter(delivery=delivery)
            except ValueError:
                continue  # finished meanwhile
            done += 1
        self.message_user(request, f"{done} deliveries dead-lettered.", messages.SUCCESS)


@admin.register(OutboxPartnerState)
class OutboxPartnerStateAdmin(admin.ModelAdmin):
    """Per-partner outbox health: counts, last success, circuit breaker."""

    list_display = (
        "partner",
        "pending",
        "delivered",
        "failed_dead",
        "last_success",
        "blocked_until",
        "consecutive_failures",
        "last_error",
    )
    search_fields = ("partner__name",)
    list_select_related = ("partner",)
    list_filter = ("consecutive_failures",)
    readonly_fields = [f.name for f in OutboxPartnerState._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[OutboxPartnerState]:
        def count(state: str) -> Count:
            return Count("partner__outbox_deliveries", filter=Q(partner__outbox_deliveries__state=state))

        return (
            super()
            .get_queryset(request)
            .annotate(
                outbox_pending=count(OutboxState.PENDING),
                outbox_delivered=count(OutboxState.DELIVERED),
                outbox_failed=count(OutboxState.FAILED),
                outbox_dead=count(OutboxState.DEAD),
                outbox_last_success=Max(
                    "partner__outbox_deliveries__finished_at",
                    filter=Q(partner__outbox_deliveries__state=OutboxState.DELIVERED),
                ),
            )
        )

    @admin.display(description="Pending", ordering="outbox_pending")
    def pending(self, obj: WithAnnotations[OutboxPartnerState, OutboxCounts]) -> str:
        return _deliveries_link(obj.partner_id, obj.outbox_pending, OutboxState.PENDING)

    @admin.display(description="Delivered", ordering="outbox_delivered")
    def delivered(self, obj: WithAnnotations[OutboxPartnerState, OutboxCounts]) -> str:
        return _deliveries_link(obj.partner_id, obj.outbox_delivered, OutboxState.DELIVERED)

    @admin.display(description="Failed / dead")
    def failed_dead(self, obj: WithAnnotations[OutboxPartnerState, OutboxCounts]) -> str:
        return _deliveries_link(obj.partner_id, f"{obj.outbox_failed} / {obj.outbox_dead}")

    @admin.display(description="Last delivery", ordering="outbox_last_success")
    def last_success(self, obj: WithAnnotations[OutboxPartnerState, OutboxCounts]) -> Any:
        return obj.outbox_last_success

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxSync)
class OutboxSyncAdmin(admin.ModelAdmin):
    """What each partner last received of each object (read-only; for support questions)."""

    list_display = ("partner", "module", "object_id", "exists", "delivered_last_updated", "delivered_at")
    list_filter = ("module", "exists", "partner")
    search_fields = ("=object_id",)
    list_select_related = ("partner",)
    readonly_fields = [f.name for f in OutboxSync._meta.fields]

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return (queryset.filter(object_id=int(term)) if term.isdigit() else queryset.none()), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
