"""Reads for admin: per-partner delivery counts and the last success."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Q, QuerySet

from partners.models import OutboxDelivery, OutboxPartnerState, OutboxState, Partner

_COUNTS = {
    "outbox_pending": Q(outbox_deliveries__state=OutboxState.PENDING),
    "outbox_delivered": Q(outbox_deliveries__state=OutboxState.DELIVERED),
    "outbox_failed": Q(outbox_deliveries__state=OutboxState.FAILED),
    "outbox_dead": Q(outbox_deliveries__state=OutboxState.DEAD),
}


def partner_list_with_outbox_counts(queryset: QuerySet[Partner] | None = None) -> QuerySet[Partner]:
    """Annotate partners (e.g. the admin changelist queryset) with outbox_pending/delivered/failed/dead and
    outbox_last_success (newest delivered finished_at)."""
    queryset = Partner.objects.all() if queryset is None else queryset
    return queryset.annotate(
        **{name: Count("outbox_deliveries", filter=condition) for name, condition in _COUNTS.items()},
        outbox_last_success=Max(
            "outbox_deliveries__finished_at", filter=Q(outbox_deliveries__state=OutboxState.DELIVERED)
        ),
    )


def outbox_stats(partner: Partner) -> dict[str, Any]:
    """Counts per state, last success and the circuit-breaker state of one partner."""
    counts = dict(
        OutboxDelivery.objects.filter(partner=partner)
        .values_list("state")
        .annotate(n=Count("pk"))
        .values_list("state", "n")
    )
    state = OutboxPartnerState.objects.filter(partner=partner).first()
    last_success = OutboxDelivery.objects.filter(partner=partner, state=OutboxState.DELIVERED).aggregate(
        m=Max("finished_at")
    )["m"]
    return {
        "pending": counts.get(OutboxState.PENDING, 0),
        "delivered": counts.get(OutboxState.DELIVERED, 0),
        "skipped": counts.get(OutboxState.SKIPPED, 0),
        "failed": counts.get(OutboxState.FAILED, 0),
        "dead": counts.get(OutboxState.DEAD, 0),
        "last_success": last_success,
        "blocked_until": state.blocked_until if state else None,
        "consecutive_failures": state.consecutive_failures if state else 0,
        "last_error": state.last_error if state else "",
    }
