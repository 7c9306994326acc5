"""Initial sync: a partner that just connected a Receiver gets every object it should hold, through the outbox.

The Receiver interfaces only get changes pushed (locations.md 3, tariffs.md 3, tokens.md 3), so a partner
that registers after our objects were made would never see the unchanged ones. partner_initial_sync writes
one delivery per object (hint "full": a PUT of the whole object) for each module whose audience includes
the partner (the module's `snapshot` in the registry: same rules as the live pushes), coalescing with open
deliveries, in pages of OCPI_OUTBOX_INITIAL_SYNC_CHUNK objects with a constant number of queries per page.

The rows are parked (outbox_pump): the outbox releases OCPI_OUTBOX_PARTNER_CONCURRENCY of them, and each
one that finishes releases the next, so sending goes at the partner's pace (concurrency, rate limit, circuit
breaker) rather than one queued task per object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q

from partners.models import OutboxDelivery, OutboxState, Partner, PartnerState

from .hints import FULL
from .registry import get_module
from .services import BACKLOG_NOTE, _now, outbox_pump, outbox_setting

logger = logging.getLogger(__name__)

# Modules with an initial sync, in the order they are queued (a location's tariffs before it would be nice,
# but each delivery stands alone: the order only decides what the partner gets first).
INITIAL_SYNC_MODULES = ("tariffs", "locations", "tokens")


def initial_sync_modules(modules: Iterable[str] | None = None) -> list[str]:
    """The modules to sync, in queueing order: all of them, or those of `modules` that have an initial sync."""
    if modules is None:
        return list(INITIAL_SYNC_MODULES)
    wanted = set(modules)
    names = [m for m in INITIAL_SYNC_MODULES if m in wanted]
    # Other registered modules with a snapshot (tests register their own) come after ours; an unregistered
    # name is an error (UnknownOutboxModule).
    names += sorted(m for m in wanted - set(INITIAL_SYNC_MODULES) if get_module(m).snapshot is not None)
    return names


def partner_initial_sync(*, partner: Partner, modules: Iterable[str] | None = None) -> dict[str, int]:
    """Queue the delivery of every object of `modules` (default: locations, tariffs, tokens) the partner
    should hold. Returns {module: deliveries queued} for the modules the partner receives (absent: it does
    not, e.g. no tokens Receiver, or no CPO/Hub role for tokens). Safe to run again: open rows coalesce.

    Runs outside any transaction (each page commits on its own), so a sync of 100,000 objects neither holds
    one long transaction nor keeps more than a page of ids in memory.
    """
    partner = Partner.objects.get(pk=partner.pk)
    if partner.state != PartnerState.REGISTERED:
        return {}
    chunk = int(outbox_setting("OCPI_OUTBOX_INITIAL_SYNC_CHUNK"))
    per_second = outbox_setting("OCPI_OUTBOX_BACKLOG_PER_SECOND")
    if partner.rate_limit_per_second and partner.rate_limit_per_second > 0:
        per_second = min(per_second, partner.rate_limit_per_second)
    step = timedelta(seconds=1 / per_second)
    start = _now()
    queued: dict[str, int] = {}
    position = 0  # parked rows fall due one `step` apart, across modules
    for module in initial_sync_modules(modules):
        spec = get_module(module)
        ids = spec.snapshot(partner) if spec.snapshot is not None else None
        if ids is None:
            continue
        queued[module] = 0
        last = 0
        while True:
            page = list(ids.filter(pk__gt=last).order_by("pk")[:chunk])
            if not page:
                break
            last = page[-1]

            def due(k: int, p: int = position) -> datetime:
                return start + step * (p + k)

            _enqueue_page(partner.pk, module, page, due=due)
            queued[module] += len(page)
            position += len(page)
            if len(page) < chunk:
                break
    released = _start(partner.pk) if position else 0
    logger.info("Initial sync of partner %s: %s queued, %s released now", partner.pk, queued, released)
    return queued


def _enqueue_page(partner_id: int, module: str, ids: list[int], *, due: Callable[[int], datetime]) -> None:
    """One page: open rows become full pushes, the other objects get a parked row. Five queries at most
    (plus the backend's INSERT batches: SQLite allows ~55 rows per statement)."""
    now = _now()
    rows = OutboxDelivery.objects.filter(partner_id=partner_id, module=module)
    with transaction.atomic():
        pending = rows.filter(state=OutboxState.PENDING, object_id__in=ids)
        open_ids = set(pending.select_for_update().values_list("object_id", flat=True))
        if open_ids:
            # Coalescing: whatever the open row carried, the whole object is now owed. The revision bump makes
            # a task that is sending the older hint send again (outbox_deliver).
            pending.update(hint=dict(FULL), revision=F("revision") + 1, updated_at=now)
        missing = [pk for pk in ids if pk not in open_ids]
        if not missing:
            return
        # Failed or dead-lettered deliveries of these objects are covered by the new ones.
        rows.filter(object_id__in=missing, state__in=[OutboxState.FAILED, OutboxState.DEAD]).update(
            state=OutboxState.SUPERSEDED, note="superseded by an initial sync", updated_at=now
        )
        OutboxDelivery.objects.bulk_create(
            [
                OutboxDelivery(
                    partner_id=partner_id,
                    module=module,
                    object_id=pk,
                    hint=dict(FULL),
                    next_attempt_at=due(k),
                    queued_at=None,
                    note=BACKLOG_NOTE,
                )
                for k, pk in enumerate(missing)
            ],
            ignore_conflicts=True,  # a change committed meanwhile opened a row first: upgraded below
        )
        rows.filter(state=OutboxState.PENDING, object_id__in=missing).filter(~Q(note=BACKLOG_NOTE)).update(
            hint=dict(FULL), revision=F("revision") + 1, updated_at=now
        )


def _start(partner_id: int) -> int:
    """Release parked rows up to the partner's concurrency, minus the backlog chains already running (a sync
    run twice does not double them)."""
    now = _now()
    running = (
        OutboxDelivery.objects.filter(partner_id=partner_id, state=OutboxState.PENDING, note=BACKLOG_NOTE)
        .filter(Q(claimed_until__gt=now) | Q(queued_at__isnull=False))
        .count()
    )
    room = int(outbox_setting("OCPI_OUTBOX_PARTNER_CONCURRENCY")) - running
    return outbox_pump(partner_id=partner_id, limit=room) if room > 0 else 0
