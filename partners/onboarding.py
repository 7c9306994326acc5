"""Reads for a partner's page after registration (issue 13): what we sent it (the outbox since it registered,
per module) and what it holds with us (the objects that reference it), each a constant number of queries
however many rows there are.

The other apps' models are reached through Partner's reverse relations (their related_name), so this module
imports no app above partners (the layers contract in pyproject.toml).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.db.models import Count, IntegerField, Model, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from .models import OutboxDelivery, OutboxState, OutboxSync, Partner, PartnerState

# What a partner holds with us: (reverse relation on Partner, label, admin changelist, filter parameter).
HOLDINGS: tuple[tuple[str, str, str, str], ...] = (
    ("received_locations", "Locations it sent us", "locations.location", "received_from__id__exact"),
    ("received_tariffs", "Tariffs it sent us", "tariffs.tariff", "received_from__id__exact"),
    ("received_tokens", "Tokens it sent us", "tokens.token", "received_from__id__exact"),
    ("received_sessions", "Sessions it sent us", "charging_sessions.chargingsession", "received_from__id__exact"),
    (
        "token_owner_sessions",
        "Sessions at our CPO with its tokens",
        "charging_sessions.chargingsession",
        "token_owner_partner__id__exact",
    ),
    ("received_cdrs", "CDRs it sent us", "cdrs.cdr", "received_from__id__exact"),
    ("owned_token_cdrs", "CDRs we issued to it", "cdrs.cdr", "token_owner_partner__id__exact"),
)

# A partner whose registration failed (or never happened) may be removed with these rows only: its roles and
# endpoints, the credentials tokens we issued, its outbox health row. The message log keeps its rows
# (partner set to empty). Any other row referencing the partner (objects it sent, sessions, CDRs, commands,
# deliveries, pull state) makes the removal refuse: that would delete or orphan data.
REMOVABLE_WITH_PARTNER = frozenset({"roles", "endpoints", "tokens", "outbox_state", "messages"})
REMOVABLE_STATES = frozenset({PartnerState.ERROR, PartnerState.NEW, PartnerState.INVITED, PartnerState.UNREGISTERED})


def _relation_count(accessor: str) -> Coalesce:
    """Scalar subquery: rows of the model behind Partner.<accessor> that point at the outer partner."""
    relation = next(r for r in Partner._meta.related_objects if r.get_accessor_name() == accessor)
    fk = relation.field.name
    model = cast(type[Model], relation.related_model)
    rows = (
        model._base_manager.filter(**{fk: OuterRef("pk")}).order_by().values(fk).annotate(n=Count("pk")).values("n")[:1]
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


def partner_relation_counts(partner: Partner, accessors: list[str]) -> dict[str, int]:
    """{accessor: rows} for Partner reverse relations, in one query."""
    if not accessors:
        return {}
    row = (
        Partner.objects.filter(pk=partner.pk)
        .annotate(**{f"n_{name}": _relation_count(name) for name in accessors})
        .values(*(f"n_{name}" for name in accessors))
        .first()
    )
    return {name: (row or {}).get(f"n_{name}", 0) for name in accessors}


def partner_holdings(partner: Partner) -> list[tuple[str, str, int, str, str]]:
    """(accessor, label, count, model label, filter parameter) of what the partner holds with us; one query."""
    counts = partner_relation_counts(partner, [accessor for accessor, *_ in HOLDINGS])
    return [(accessor, label, counts[accessor], model, param) for accessor, label, model, param in HOLDINGS]


def partner_blocking_relations(partner: Partner) -> dict[str, int]:
    """{accessor: rows} of the relations that stop a clean removal (empty: it may be removed); one query."""
    accessors = sorted(
        r.get_accessor_name() or ""
        for r in Partner._meta.related_objects
        if r.get_accessor_name() not in REMOVABLE_WITH_PARTNER
    )
    return {name: n for name, n in partner_relation_counts(partner, accessors).items() if n}


@dataclass(frozen=True)
class ModuleProgress:
    module: str
    queued: int  # deliveries written since registration
    delivered: int
    skipped: int  # nothing to send, or superseded by a later delivery of the same object
    failed: int  # failed permanently or dead-lettered
    pending: int  # still to send (waiting, backing off, or in flight)
    held: int  # objects the partner holds from us (OutboxSync: the last delivery was a PUT/PATCH)

    @property
    def done(self) -> int:
        return self.queued - self.pending

    @property
    def percent(self) -> int:
        """Share of the queued deliveries that are finished (delivered, skipped or failed)."""
        return 100 if not self.queued else int(100 * self.done / self.queued)


def partner_sync_progress(partner: Partner) -> list[ModuleProgress]:
    """Per module, the outbox deliveries to the partner since it registered (the initial sync and what changed
    since) by state, and the objects it holds from us. Two grouped queries."""
    deliveries = OutboxDelivery.objects.filter(partner=partner)
    if partner.registered_at:
        deliveries = deliveries.filter(created_at__gte=partner.registered_at)
    counts: dict[str, dict[str, int]] = {}
    for module, state, n in deliveries.order_by().values_list("module", "state").annotate(n=Count("pk")):
        counts.setdefault(module, {})[state] = n
    held = dict(
        OutboxSync.objects.filter(partner=partner, exists=True)
        .order_by()
        .values_list("module")
        .annotate(n=Count("pk"))
        .values_list("module", "n")
    )
    rows = []
    for module in sorted(set(counts) | set(held)):
        by_state = counts.get(module, {})
        rows.append(
            ModuleProgress(
                module=module,
                queued=sum(by_state.values()),
                delivered=by_state.get(OutboxState.DELIVERED, 0),
                skipped=by_state.get(OutboxState.SKIPPED, 0) + by_state.get(OutboxState.SUPERSEDED, 0),
                failed=by_state.get(OutboxState.FAILED, 0) + by_state.get(OutboxState.DEAD, 0),
                pending=by_state.get(OutboxState.PENDING, 0),
                held=held.get(module, 0),
            )
        )
    return rows


def partner_sync_totals(rows: list[ModuleProgress]) -> ModuleProgress:
    """All modules together (module "all")."""
    return ModuleProgress(
        module="all",
        queued=sum(r.queued for r in rows),
        delivered=sum(r.delivered for r in rows),
        skipped=sum(r.skipped for r in rows),
        failed=sum(r.failed for r in rows),
        pending=sum(r.pending for r in rows),
        held=sum(r.held for r in rows),
    )
