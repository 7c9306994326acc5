"""The transactional outbox: enqueue in the change's transaction, deliver one row per task, retry, dead-letter.

Guarantees (ARCHITECTURE.md "Outbox", STYLE.md 4):
* a delivery row is written in the transaction of the change; the task is queued on commit, and the beat
  task re-queues due rows whose task was lost, so nothing is lost and a rolled-back change sends nothing;
* one open row per (partner, module, object): later changes merge into it (coalescing), and a lease
  (claimed_until + claim_token, taken with a conditional UPDATE that works on PostgreSQL and SQLite) keeps
  at most one task sending it; the push reads the object's current state at send time;
* results are recorded with conditional updates: a task whose lease was taken over, or that sent an older
  revision than the row now holds, cannot mark newer changes delivered;
* transient failures back off exponentially with jitter (Retry-After honoured); permanent ones are recorded
  and not retried; after OCPI_OUTBOX_MAX_ATTEMPTS the row is dead-lettered;
* partners are isolated: a failing partner is blocked (circuit breaker) and probed by one delivery at a time,
  a partner has at most OCPI_OUTBOX_PARTNER_CONCURRENCY sends in flight, and its optional rate limit is
  honoured; waiting is a countdown/eta or the beat, never a sleep in a worker.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, JSONField, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from ocpi_platform.dispatch import enqueue
from ocpi_platform.ocpi.client import OcpiClientError, OcpiPermanentError, OcpiTransientError
from ocpi_platform.ocpi.headers import PartyRef
from partners.hubclientinfo import PartyNotConnected, hub_party_status
from partners.models import (
    OutboxDelivery,
    OutboxPartnerState,
    OutboxState,
    OutboxSync,
    Partner,
    PartnerState,
)

from .hints import hint_merge, hint_normalize
from .registry import PushResult, UnknownOutboxModule, get_module

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, float] = {
    "OCPI_OUTBOX_MAX_ATTEMPTS": 12,  # failed sends before a delivery is dead-lettered
    "OCPI_OUTBOX_BACKOFF_BASE_SECONDS": 5,  # first retry after ~5 s, then doubling
    "OCPI_OUTBOX_BACKOFF_MAX_SECONDS": 3600,
    "OCPI_OUTBOX_LEASE_MARGIN_SECONDS": 10,  # lease = 3 x partner timeout + this
    "OCPI_OUTBOX_PARTNER_CONCURRENCY": 2,  # sends in flight per partner
    "OCPI_OUTBOX_SLOT_WAIT_SECONDS": 5,  # a row waiting for a free send slot falls due by itself after this
    "OCPI_OUTBOX_MAX_COUNTDOWN_SECONDS": 300,  # longer waits are left to the beat (no long ETAs in the broker)
    "OCPI_OUTBOX_REQUEUE_GRACE_SECONDS": 120,  # a queued task that has not run this long is presumed lost
    "OCPI_OUTBOX_REQUEUE_BATCH": 200,  # per partner and beat run / recovery
    "OCPI_OUTBOX_PARTY_RECHECK_SECONDS": 3600,  # a delivery waiting for a party behind a Hub is re-checked
    "OCPI_OUTBOX_BACKLOG_PER_SECOND": 1.0,  # initial sync rows the pump did not release fall due at this pace
    "OCPI_OUTBOX_INITIAL_SYNC_CHUNK": 500,  # objects per page (and transaction) of an initial sync
    "OCPI_OUTBOX_INITIAL_SYNC_DELAY_SECONDS": 5,  # after a partner registered with us: let it store our answer
    "OCPI_OUTBOX_DRAIN_BATCH": 50,  # deliveries a partner's drain claims per statement
    "OCPI_OUTBOX_DRAIN_SECONDS": 5,  # a drain that has run this long re-queues itself (fairness between partners)
    "OCPI_OUTBOX_DRAIN_KEY_TTL_SECONDS": 30,  # a queued drain's dedupe key outlives its due time by this
    "OCPI_OUTBOX_DRAIN_MAX_PAUSE_SECONDS": 1,  # a drain waits this long at most for its partner's rate limit
}
WAITING_FOR_PARTY = "waiting for party"  # note prefix of deliveries held for a party that is not CONNECTED
# Note of the deliveries an initial sync parks (partners/outbox/initial_sync.py): released by outbox_pump.
BACKLOG_NOTE = "initial sync"
# Note of a live delivery that found every send slot of its partner taken: released by the next send that finishes.
SLOT_NOTE = "waiting for a free send slot"
PARKED_NOTES = (SLOT_NOTE, BACKLOG_NOTE)  # released in this order: live changes before an initial sync's backlog
_CALLS_PER_PUSH = 3  # a PATCH, its fallback PUT, and slack: the lease must outlive every call's timeout
_DUE_TOLERANCE = timedelta(seconds=1)  # ETAs fire a little early or late; clocks differ slightly


def outbox_setting(name: str) -> float:
    return getattr(settings, name, DEFAULTS[name])


def _now() -> datetime:
    """The outbox clock (tests move it instead of sleeping)."""
    return timezone.now()


# --- Enqueue --------------------------------------------------------------------------------------


def outbox_enqueue(
    *,
    module: str,
    object_id: int,
    hint: dict[str, Any] | None = None,
    partners: Iterable[Partner | int] | None = None,
) -> None:
    """Write one pending delivery per recipient in the caller's transaction; queue the tasks on commit.

    `partners` defaults to the module's audience. A module no app registered is a programming error
    (UnknownOutboxModule, a LookupError).
    """
    spec = get_module(module)
    hint = hint_normalize(hint)
    recipients = spec.audience(object_id) if partners is None else partners
    partner_ids = sorted({p.pk if isinstance(p, Partner) else int(p) for p in recipients})
    if not partner_ids:
        return
    now = _now()
    due: list[tuple[int, int]] = []
    opened: list[int] = []
    with transaction.atomic():
        for delivery_id, partner_id, schedule_now in _enqueue_many(partner_ids, module, object_id, hint, now):
            if schedule_now:
                due.append((delivery_id, partner_id))
            opened.append(delivery_id)
        if due:

            def schedule_due() -> None:
                _schedule_many(due)

            transaction.on_commit(schedule_due, robust=True)
        if spec.pace is not None:
            for delivery_id in opened:
                _pace(spec.pace, delivery_id, now)


def _enqueue_many(
    partner_ids: list[int], module: str, object_id: int, hint: dict[str, Any], now: datetime
) -> list[tuple[int, int, bool]]:
    """`_enqueue_one` for every recipient of one change with a constant number of queries (a change of an EVSE
    fans out to every partner with a Locations Receiver): the open rows are merged with one locking read and one
    bulk update, the missing ones created with one insert (after one read of the failed or dead rows they take
    over). A concurrent transaction that opened a row first makes the insert fail: then row by row, as before."""
    rows = OutboxDelivery.objects.filter(module=module, object_id=object_id, partner_id__in=partner_ids)
    # Locked in partner order, as the row-by-row path does: two transactions never wait for each other in a cycle.
    open_rows = list(
        rows.select_for_update()
        .filter(state=OutboxState.PENDING)
        .order_by("partner_id")
        .only("pk", "partner_id", "hint", "next_attempt_at", "claimed_until")
    )
    results: list[tuple[int, int, bool]] = []
    # Rows whose merged hint is the same (usually all of them: every partner got the same changes) are updated
    # by one plain UPDATE each, cheaper to build and run than bulk_update's CASE per row.
    by_hint: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for row in open_rows:
        merged = hint_merge(row.hint, hint)
        by_hint.setdefault(json.dumps(merged, sort_keys=True), (merged, []))[1].append(row.pk)
        # A row in backoff keeps its schedule; a row being sent is re-sent by its task (revision changed).
        free = row.claimed_until is None or row.claimed_until <= now
        results.append((row.pk, row.partner_id, free and row.next_attempt_at <= now))
    for merged, ids in by_hint.values():
        OutboxDelivery.objects.filter(pk__in=ids).update(hint=merged, revision=F("revision") + 1, updated_at=now)
    have = {row.partner_id for row in open_rows}
    missing = [pk for pk in partner_ids if pk not in have]
    if not missing:
        return results
    stale: dict[int, list[OutboxDelivery]] = {}
    for row in (
        rows.select_for_update()
        .filter(partner_id__in=missing, state__in=[OutboxState.FAILED, OutboxState.DEAD])
        .order_by("partner_id", "pk")
        .only("pk", "partner_id", "hint")
    ):
        stale.setdefault(row.partner_id, []).append(row)
    new_rows = []
    for partner_id in missing:
        merged = hint
        for row in stale.get(partner_id, []):
            merged = hint_merge(row.hint, merged)
        new_rows.append(
            OutboxDelivery(
                partner_id=partner_id,
                module=module,
                object_id=object_id,
                hint=merged,
                next_attempt_at=now,
                queued_at=now,
            )
        )
    try:
        with transaction.atomic():
            created = OutboxDelivery.objects.bulk_create(new_rows)
    except IntegrityError:
        one = [(partner_id, _enqueue_one(partner_id, module, object_id, hint, now)) for partner_id in missing]
        return results + [(pk, partner_id, schedule_now) for partner_id, (pk, schedule_now) in one]
    superseded = []
    for row in created:
        for old in stale.get(row.partner_id, []):
            old.state = OutboxState.SUPERSEDED
            old.note = f"superseded by delivery {row.pk}"
            old.updated_at = now
            superseded.append(old)
    if superseded:
        OutboxDelivery.objects.bulk_update(superseded, ["state", "note", "updated_at"])
    return results + [(row.pk, row.partner_id, True) for row in created]


def _enqueue_one(partner_id: int, module: str, object_id: int, hint: dict[str, Any], now: datetime) -> tuple[int, bool]:
    key = {"partner_id": partner_id, "module": module, "object_id": object_id}
    for _ in range(3):
        open_row = (
            OutboxDelivery.objects.select_for_update()
            .filter(**key, state=OutboxState.PENDING)
            .only("pk", "hint", "next_attempt_at", "claimed_until")
            .first()
        )
        if open_row is not None:
            OutboxDelivery.objects.filter(pk=open_row.pk).update(
                hint=hint_merge(open_row.hint, hint), revision=F("revision") + 1, updated_at=now
            )
            # A row in backoff keeps its schedule; a row being sent is re-sent by its task (revision changed).
            free = open_row.claimed_until is None or open_row.claimed_until <= now
            return open_row.pk, free and open_row.next_attempt_at <= now
        # What a dead-lettered or failed delivery did not bring over is owed too: merge it in.
        stale = list(
            OutboxDelivery.objects.select_for_update()
            .filter(**key, state__in=[OutboxState.FAILED, OutboxState.DEAD])
            .only("pk", "hint")
        )
        merged = hint
        for row in stale:
            merged = hint_merge(row.hint, merged)
        try:
            with transaction.atomic():
                row = OutboxDelivery.objects.create(**key, hint=merged, next_attempt_at=now, queued_at=now)
        except IntegrityError:
            continue  # a concurrent transaction opened one first: merge into it
        if stale:
            OutboxDelivery.objects.filter(pk__in=[r.pk for r in stale]).update(
                state=OutboxState.SUPERSEDED, note=f"superseded by delivery {row.pk}", updated_at=now
            )
        return row.pk, True
    raise RuntimeError(f"Could not enqueue {module} #{object_id} for partner {partner_id}")


def _pace(pace: Callable[..., datetime | None], delivery_id: int, now: datetime) -> None:
    """Let the module's `pace` hook move the open delivery of a change (registry.register_module). A row in
    backoff (attempts > 0) or being sent is left to the outbox; a moved row gets a task for its new time on
    commit (the beat re-queues rows too far away for a countdown)."""
    row = OutboxDelivery.objects.select_for_update().filter(pk=delivery_id, state=OutboxState.PENDING).first()
    if row is None or row.attempts or (row.claimed_until is not None and row.claimed_until > now):
        return
    last_sent = (
        OutboxSync.objects.filter(partner_id=row.partner_id, module=row.module, object_id=row.object_id, exists=True)
        .values_list("delivered_at", flat=True)
        .first()
    )
    at = pace(
        partner_id=row.partner_id,
        object_id=row.object_id,
        hint=dict(row.hint),
        scheduled_at=row.next_attempt_at,
        last_sent=last_sent,
        now=now,
    )
    if at is None or at == row.next_attempt_at:
        return
    countdown = max(0.0, (at - now).total_seconds())
    soon = countdown <= outbox_setting("OCPI_OUTBOX_MAX_COUNTDOWN_SECONDS")
    # queued_at=None leaves a far-away row to the outbox beat (it re-queues due rows that have no task).
    OutboxDelivery.objects.filter(pk=delivery_id, state=OutboxState.PENDING).update(
        next_attempt_at=at, queued_at=at if soon else None
    )
    if soon:
        partner_id = row.partner_id
        transaction.on_commit(lambda: _schedule(delivery_id, countdown, partner_id=partner_id), robust=True)


def _schedule(delivery_id: int, countdown: float = 0, *, partner_id: int | None = None) -> None:
    """Delivery `delivery_id` is due in `countdown` seconds: make sure its partner's drain runs then
    (partners/outbox/drain.py; one task per partner, not per delivery). Tests replace this hook to play the
    worker delivery by delivery (outbox_deliver)."""
    if partner_id is None:
        partner_id = OutboxDelivery.objects.filter(pk=delivery_id).values_list("partner_id", flat=True).first()
        if partner_id is None:
            return
    schedule_drain(partner_id, countdown)


def _schedule_many(due: list[tuple[int, int]]) -> None:
    """_schedule for the (delivery, partner) pairs of one change's fan-out, due now: with the shared cache their
    partners' drains are queued by schedule_drains (every partner's key set in one Redis round trip)."""
    if _dedupe_drains():
        schedule_drains([partner_id for _, partner_id in due])
        return
    for pk, partner_id in due:
        _schedule(pk, partner_id=partner_id)


# --- Drain scheduling: at most one pending drain task per partner ------------------------------------------

_draining = threading.local()  # .partner_id: the partner whose drain runs in this thread (drain.py sets it)
_DRAIN_KEY = "outbox:drain:{partner_id}"  # SET NX in the shared cache: a drain of the partner is queued


def _drain_key(partner_id: int, countdown: float) -> str:
    key = _DRAIN_KEY.format(partner_id=partner_id)
    if countdown >= 1:  # a later drain (retry, backoff, rate limit): one per partner and second
        key += f":{int(time.time() + countdown)}"
    return key


def _dedupe_drains() -> bool:
    """Drains are deduplicated through the default cache when it is shared by every process (Redis); under
    eager Celery (tests, `make run`) a drain runs inline at once, so there is nothing queued to deduplicate."""
    return not settings.CELERY_TASK_ALWAYS_EAGER and "redis" in settings.CACHES["default"]["BACKEND"].lower()


def schedule_drain(partner_id: int, countdown: float = 0, *, force: bool = False) -> None:
    """Queue `outbox_drain(partner_id)` unless one is already queued for then (a key in the shared cache, set
    with NX and cleared by the drain when it starts; its TTL bounds a lost task's key); `force` queues anyway
    (the beat, a drain re-queuing itself). Inside the partner's own drain nothing is queued: the drain loops
    and queues itself for its next due row before it returns. If the broker is unreachable the beat re-queues."""
    if getattr(_draining, "partner_id", None) == partner_id:
        return
    eager = settings.CELERY_TASK_ALWAYS_EAGER
    if eager and countdown > 0:
        return  # eager Celery would run it now, before it is due: the (in-process) beat queues it when due
    try:
        if _dedupe_drains():
            key = _drain_key(partner_id, countdown)
            ttl = int(countdown + outbox_setting("OCPI_OUTBOX_DRAIN_KEY_TTL_SECONDS"))
            if force:
                cache.set(key, 1, ttl)
            elif not cache.add(key, 1, ttl):
                return
        enqueue("partners.tasks.outbox_drain", partner_id=partner_id, countdown=countdown or None)
    except Exception:
        logger.exception("Outbox: could not queue a drain of partner %s; the beat will re-queue it", partner_id)


def schedule_drains(partner_ids: Iterable[int]) -> None:
    """schedule_drain(partner_id) of several partners, due now (a change fans out to every partner): their keys
    are set (NX) in one pipelined Redis round trip instead of one each, and a drain is queued for each partner
    whose key was not set yet."""
    current = getattr(_draining, "partner_id", None)
    ids = [pk for pk in dict.fromkeys(partner_ids) if pk != current]
    if len(ids) <= 1 or not _dedupe_drains():
        for partner_id in ids:
            schedule_drain(partner_id)
        return
    ttl = int(outbox_setting("OCPI_OUTBOX_DRAIN_KEY_TTL_SECONDS"))
    try:
        added = _cache_add_many([_drain_key(pk, 0) for pk in ids], ttl)
    except Exception:
        logger.exception("Outbox: could not queue the drains of partners %s; the beat will re-queue them", ids)
        return
    for partner_id, new in zip(ids, added, strict=True):
        if not new:
            continue  # a drain of that partner is queued already
        try:
            enqueue("partners.tasks.outbox_drain", partner_id=partner_id)
        except Exception:
            logger.exception("Outbox: could not queue a drain of partner %s; the beat will re-queue it", partner_id)


def _cache_add_many(keys: list[str], ttl: int) -> list[bool]:
    """cache.add(key, 1, ttl) of every key (SET NX EX) in one pipelined round trip to the cache's Redis (the
    default cache: one server). Returns, per key, whether it was set."""
    backend: Any = cache
    names = [backend.make_and_validate_key(key) for key in keys]
    client = backend._cache.get_client(names[0], write=True)  # Django's RedisCacheClient: a redis-py client
    value = backend._cache._serializer.dumps(1)
    pipe = client.pipeline(transaction=False)
    for name in names:
        pipe.set(name, value, ex=ttl, nx=True)
    return [bool(result) for result in pipe.execute()]


def drain_started(partner_id: int) -> None:
    """The partner's drain holds its lock: later changes must queue a new drain (it finds this one running and
    leaves the key set, so a burst queues at most one more)."""
    if _dedupe_drains():
        try:
            cache.delete(_DRAIN_KEY.format(partner_id=partner_id))
        except Exception:
            logger.exception("Outbox: could not clear the drain key of partner %s", partner_id)


# --- Deliver --------------------------------------------------------------------------------------


def _free_claim() -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lte=_now())


def _jitter(seconds: float) -> timedelta:
    return timedelta(seconds=random.uniform(0, max(0.0, seconds)))


def _backoff(attempt: int) -> timedelta:
    """Exponential backoff with equal jitter: half the delay fixed, half random."""
    base = outbox_setting("OCPI_OUTBOX_BACKOFF_BASE_SECONDS")
    delay = min(outbox_setting("OCPI_OUTBOX_BACKOFF_MAX_SECONDS"), base * 2 ** max(0, attempt - 1))
    return timedelta(seconds=delay / 2) + _jitter(delay / 2)


def _lease(partner: Partner) -> timedelta:
    return timedelta(
        seconds=partner.timeout_seconds * _CALLS_PER_PUSH + outbox_setting("OCPI_OUTBOX_LEASE_MARGIN_SECONDS")
    )


def _reschedule(
    delivery_id: int, *, at: datetime, token: str | None = None, partner_id: int | None = None, **fields: Any
) -> bool:
    """Move a pending row to `at` (releasing our lease if we hold one) and queue a task for it if soon."""
    countdown = max(0.0, (at - _now()).total_seconds())
    soon = countdown <= outbox_setting("OCPI_OUTBOX_MAX_COUNTDOWN_SECONDS")
    rows = OutboxDelivery.objects.filter(pk=delivery_id, state=OutboxState.PENDING)
    if token:
        rows = rows.filter(claim_token=token)
        fields.update(claimed_until=None, claim_token="")
    else:
        rows = rows.filter(_free_claim())
    updated = rows.update(next_attempt_at=at, queued_at=at if soon else None, updated_at=_now(), **fields)
    if updated and soon:
        _schedule(delivery_id, countdown, partner_id=partner_id)
    return bool(updated)


def _finish(delivery: OutboxDelivery, token: str, state: str, *, same_revision: bool = True, **fields: Any) -> bool:
    rows = OutboxDelivery.objects.filter(pk=delivery.pk, claim_token=token, state=OutboxState.PENDING)
    if same_revision:
        rows = rows.filter(revision=delivery.revision)
    now = _now()
    return bool(
        rows.update(
            state=state, claimed_until=None, claim_token="", finished_at=now, updated_at=now, queued_at=None, **fields
        )
    )


def _partner_state(partner: Partner) -> OutboxPartnerState:
    state, _ = OutboxPartnerState.objects.get_or_create(partner=partner)
    return state


def outbox_deliver(*, delivery_id: int) -> str:
    """Send one delivery (the task body). Idempotent: safe to run twice, late, or concurrently.

    Returns what happened, for logs and tests: delivered, skipped, retry, failed, dead, busy, deferred, ...
    """
    now = _now()
    delivery = OutboxDelivery.objects.select_related("partner").filter(pk=delivery_id).first()
    if delivery is None or delivery.state != OutboxState.PENDING:
        return "done"
    if delivery.claimed_until and delivery.claimed_until > now:
        return "busy"
    if delivery.next_attempt_at > now + _DUE_TOLERANCE:
        return "not-due"
    partner = delivery.partner
    if partner.state != PartnerState.REGISTERED:
        token = _claim(delivery, partner, now)
        if token:
            _finish(
                delivery, token, OutboxState.SKIPPED, same_revision=False, action="SKIP", note="partner not registered"
            )
        return "skipped"

    pstate = _partner_state(partner)
    if pstate.blocked_until and pstate.blocked_until > now:
        _reschedule(
            delivery.pk,
            partner_id=delivery.partner_id,
            at=pstate.blocked_until + _jitter(min(30.0, partner.timeout_seconds * 2)),
        )
        return "deferred"
    if _in_flight(partner.pk, now, exclude=delivery.pk) >= outbox_setting("OCPI_OUTBOX_PARTNER_CONCURRENCY"):
        return _wait_for_slot(delivery, partner, now)

    token = _claim(delivery, partner, now)
    if token is None:
        return "busy"
    delivery.refresh_from_db()  # the hint and revision as of our claim (merges may have landed meanwhile)

    probing = pstate.consecutive_failures > 0
    if probing:
        # The partner failed lately: one delivery at a time finds out whether it is back.
        acquired = (
            OutboxPartnerState.objects.filter(pk=pstate.pk)
            .filter(Q(blocked_until__isnull=True) | Q(blocked_until__lte=now))
            .update(blocked_until=now + _lease(partner))
        )
        if not acquired:
            _reschedule(
                delivery.pk, partner_id=delivery.partner_id, at=now + _lease(partner) + _jitter(5.0), token=token
            )
            return "deferred"
    wait = _rate_limit_wait(partner, pstate, now)
    if wait is not None:
        if probing:
            OutboxPartnerState.objects.filter(pk=pstate.pk).update(blocked_until=now)
        _reschedule(delivery.pk, partner_id=delivery.partner_id, at=now + wait, token=token)
        return "rate-limited"
    return _push(delivery, partner, pstate, token, probing)


def _in_flight(partner_id: int, now: datetime, exclude: int | None = None) -> int:
    rows = OutboxDelivery.objects.filter(partner_id=partner_id, state=OutboxState.PENDING, claimed_until__gt=now)
    return (rows.exclude(pk=exclude) if exclude else rows).count()


def _wait_for_slot(delivery: OutboxDelivery, partner: Partner, now: datetime) -> str:
    """Every send slot of the partner is taken: park the row until one of its sends finishes (the finished send
    releases the oldest waiting row, `_pump_after`), rather than polling on a timer; a row nothing releases falls
    due by itself after OCPI_OUTBOX_SLOT_WAIT_SECONDS (the beat queues it). A retry keeps its short timer."""
    if delivery.attempts:
        _reschedule(
            delivery.pk,
            partner_id=delivery.partner_id,
            at=now + timedelta(seconds=0.5) + _jitter(min(5.0, partner.timeout_seconds)),
        )
        return "deferred"
    note = delivery.note if delivery.note in PARKED_NOTES else SLOT_NOTE
    parked = (
        OutboxDelivery.objects.filter(pk=delivery.pk, state=OutboxState.PENDING, attempts=0)
        .filter(_free_claim())
        .update(
            note=note,
            queued_at=None,
            next_attempt_at=now + timedelta(seconds=outbox_setting("OCPI_OUTBOX_SLOT_WAIT_SECONDS")),
            updated_at=now,
        )
    )
    if not parked:
        return "busy"
    # A send may have finished between our count and our park, releasing nobody: then release the oldest now.
    if _in_flight(partner.pk, _now()) < outbox_setting("OCPI_OUTBOX_PARTNER_CONCURRENCY"):
        outbox_pump(partner_id=partner.pk)
    return "waiting"


def _claim(delivery: OutboxDelivery, partner: Partner, now: datetime) -> str | None:
    token = uuid.uuid4().hex
    claimed = (
        OutboxDelivery.objects.filter(
            pk=delivery.pk, state=OutboxState.PENDING, next_attempt_at__lte=now + _DUE_TOLERANCE
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .update(claimed_until=now + _lease(partner), claim_token=token, queued_at=None)
    )
    return token if claimed else None


def _rate_limit_wait(partner: Partner, pstate: OutboxPartnerState, now: datetime) -> timedelta | None:
    """Partner.rate_limit_per_second: take the next send slot, or say how long to wait for one."""
    rate = partner.rate_limit_per_second
    if not rate or rate <= 0:
        return None
    interval = timedelta(seconds=1 / rate)
    pstate.refresh_from_db(fields=["next_slot_at"])
    slot = pstate.next_slot_at
    if slot and slot > now:
        return slot - now + _jitter(interval.total_seconds() * 4)
    rows = OutboxPartnerState.objects.filter(pk=pstate.pk)
    rows = rows.filter(next_slot_at=slot) if slot else rows.filter(next_slot_at__isnull=True)
    if rows.update(next_slot_at=now + interval):
        return None
    return interval + _jitter(interval.total_seconds() * 4)


def _push(delivery: OutboxDelivery, partner: Partner, pstate: OutboxPartnerState, token: str, probing: bool) -> str:
    try:
        spec = get_module(delivery.module)
    except UnknownOutboxModule as exc:
        return _on_error(delivery, token, exc)
    sync, _ = OutboxSync.objects.get_or_create(partner=partner, module=delivery.module, object_id=delivery.object_id)
    try:
        result = spec.push(partner=partner, object_id=delivery.object_id, hint=dict(delivery.hint), sync=sync)
    except PartyNotConnected as exc:
        if probing:
            OutboxPartnerState.objects.filter(pk=pstate.pk).update(blocked_until=_now())  # let another one probe
        return _wait_for_party(delivery, partner, token, exc)
    except OcpiTransientError as exc:
        return _on_transient(delivery, partner, pstate, token, exc, probing=probing)
    except OcpiPermanentError as exc:
        _partner_answered(partner, pstate)
        return _on_permanent(delivery, token, exc)
    except Exception as exc:
        logger.exception(
            "Outbox: push of %s #%s to partner %s crashed", delivery.module, delivery.object_id, partner.pk
        )
        if probing:
            OutboxPartnerState.objects.filter(pk=pstate.pk).update(blocked_until=_now())
        return _on_error(delivery, token, exc)
    return _on_success(delivery, partner, pstate, sync, token, result, probing)


def _record_sync(sync: OutboxSync, result: PushResult) -> None:
    now = _now()
    fields: dict[str, Any] = {"delivered_at": now}
    rows = OutboxSync.objects.filter(pk=sync.pk)
    if result.last_updated is not None:
        fields["delivered_last_updated"] = result.last_updated
        # Never move backwards: a slower task that sent an older state does not overwrite a newer record.
        rows = rows.filter(Q(delivered_last_updated__isnull=True) | Q(delivered_last_updated__lte=result.last_updated))
    if result.exists is not None:
        fields["exists"] = result.exists
    if result.data:
        fields["data"] = {**(sync.data or {}), **result.data}
    rows.update(**fields)


def _record_syncs(records: list[tuple[OutboxSync, PushResult]]) -> None:
    """_record_sync of many sync rows (an outbox drain batch's, each row once) with one UPDATE: every row gets
    its own values (CASE on the pk) under its own condition (never backwards), as one _record_sync per row would."""
    records = [(sync, result) for sync, result in records if result.sent or result.exists is not None or result.data]
    if len(records) <= 1:
        for sync, result in records:
            _record_sync(sync, result)
        return
    if connection.vendor == "postgresql":
        _record_syncs_postgres(records)
        return
    match = Q()
    stamps: list[When] = []
    exists: list[When] = []
    data: list[When] = []
    for sync, result in records:
        row = Q(pk=sync.pk)
        if result.last_updated is not None:
            row &= Q(delivered_last_updated__isnull=True) | Q(delivered_last_updated__lte=result.last_updated)
            stamps.append(When(pk=sync.pk, then=Value(result.last_updated)))
        if result.exists is not None:
            exists.append(When(pk=sync.pk, then=Value(result.exists)))
        if result.data:
            data.append(When(pk=sync.pk, then=Value({**(sync.data or {}), **result.data}, output_field=JSONField())))
        match |= row
    fields: dict[str, Any] = {"delivered_at": _now()}
    if stamps:
        fields["delivered_last_updated"] = Case(*stamps, default=F("delivered_last_updated"))
    if exists:
        fields["exists"] = Case(*exists, default=F("exists"))
    if data:
        fields["data"] = Case(*data, default=F("data"), output_field=JSONField())
    OutboxSync.objects.filter(match).update(**fields)


def _record_syncs_postgres(records: list[tuple[OutboxSync, PushResult]]) -> None:
    """_record_syncs in one statement whose text does not depend on the batch (arrays, unnested): no query
    building per row, as the ORM's CASE per row and field costs."""
    ids, stamps, present, data = [], [], [], []
    for sync, result in records:
        ids.append(sync.pk)
        stamps.append(result.last_updated)
        present.append(result.exists)
        data.append(json.dumps({**(sync.data or {}), **result.data}) if result.data else None)
    table = connection.ops.quote_name(OutboxSync._meta.db_table)
    sql = f"""
        UPDATE {table} AS s SET
            delivered_at = %s,
            delivered_last_updated = COALESCE(v.stamp, s.delivered_last_updated),
            "exists" = COALESCE(v.present, s."exists"),
            data = COALESCE(v.data::jsonb, s.data)
        FROM unnest(%s::bigint[], %s::timestamptz[], %s::boolean[], %s::text[]) AS v(id, stamp, present, data)
        WHERE s.id = v.id
          AND (v.stamp IS NULL OR s.delivered_last_updated IS NULL OR s.delivered_last_updated <= v.stamp)
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [_now(), ids, stamps, present, data])


def _on_success(
    delivery: OutboxDelivery,
    partner: Partner,
    pstate: OutboxPartnerState,
    sync: OutboxSync,
    token: str,
    result: PushResult,
    probing: bool,
) -> str:
    if result.sent or result.exists is not None or result.data:
        _record_sync(sync, result)
    if result.sent:
        _partner_answered(partner, pstate)
    elif probing:
        OutboxPartnerState.objects.filter(pk=pstate.pk).update(blocked_until=_now())  # let another one probe
    state = OutboxState.DELIVERED if result.sent else OutboxState.SKIPPED
    common: dict[str, Any] = {"action": result.action[:8], "note": result.note[:255], "last_error": ""}
    if _finish(delivery, token, state, **common):
        _pump_after(delivery)
        return state.lower()
    # A change merged in while we were sending (or our lease was lost): send again with the current state.
    if _reschedule(delivery.pk, partner_id=delivery.partner_id, at=_now(), token=token, **common):
        return "resend"
    return "lost-lease"


def _partner_answered(partner: Partner, pstate: OutboxPartnerState) -> None:
    """The partner is reachable: close its circuit and wake the deliveries that waited for it."""
    now = _now()
    OutboxPartnerState.objects.filter(pk=pstate.pk).update(last_success_at=now)
    recovered = OutboxPartnerState.objects.filter(pk=pstate.pk, consecutive_failures__gt=0).update(
        consecutive_failures=0, blocked_until=None
    )
    if recovered:
        logger.info("Outbox: partner %s is reachable again", partner.pk)
        _wake(partner.pk, now)


def _wake(partner_id: int, now: datetime) -> None:
    ids = list(
        OutboxDelivery.objects.filter(partner_id=partner_id, state=OutboxState.PENDING, next_attempt_at__gt=now)
        .filter(_free_claim())
        .exclude(_parked())  # an initial sync's backlog is released by outbox_pump, not all at once
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[: int(outbox_setting("OCPI_OUTBOX_REQUEUE_BATCH"))]
    )
    OutboxDelivery.objects.filter(pk__in=ids, state=OutboxState.PENDING).update(next_attempt_at=now, queued_at=now)
    for pk in ids:
        _schedule(pk, partner_id=partner_id)


# --- Initial sync backlog (partners/outbox/initial_sync.py) ---------------------------------------------


def _parked() -> Q:
    """Rows waiting for outbox_pump that nothing has queued yet: an initial sync's backlog and live rows waiting
    for a free send slot (the partial index outbox_parked covers them)."""
    return Q(state=OutboxState.PENDING, note__in=PARKED_NOTES, attempts=0, queued_at__isnull=True)


def outbox_pump(*, partner_id: int, limit: int = 1) -> int:
    """Release up to `limit` parked deliveries of a partner, oldest first: due now, one task each.

    An initial sync parks one row per object instead of queueing a task per object at once; it releases
    OCPI_OUTBOX_PARTNER_CONCURRENCY of them and every backlog row that finishes releases the next one, so the
    backlog drains as fast as the partner answers, within its concurrency and rate limit, with a bounded
    number of queued tasks. A chain that breaks (a task lost with its broker) is resumed by the beat; rows
    nothing released fall due at OCPI_OUTBOX_BACKLOG_PER_SECOND on their own (the beat queues them then).
    """
    now = _now()
    parked = OutboxDelivery.objects.filter(_parked(), partner_id=partner_id).filter(_free_claim())
    live_first = Case(When(note=SLOT_NOTE, then=Value(0)), default=Value(1))
    released = []
    for pk in parked.order_by(live_first, "next_attempt_at", "pk").values_list("pk", flat=True)[:limit]:
        # Conditional: two finishing tasks never release the same row.
        if parked.filter(pk=pk).update(next_attempt_at=now, queued_at=now, updated_at=now):
            released.append(pk)
    for pk in released:
        _schedule(pk, partner_id=partner_id)
    return len(released)


def _pump_after(delivery: OutboxDelivery) -> None:
    """A send of the partner is finished: its slot goes to the oldest row waiting for one (a live change first,
    then the next row of an initial sync's backlog: the backlog's chain goes on)."""
    outbox_pump(partner_id=delivery.partner_id)


# --- Parties behind a Hub that are not CONNECTED (partners/hubclientinfo.py) ------------------------


def _waiting_note(party: PartyRef) -> str:
    return f"{WAITING_FOR_PARTY} {party}:"


def _wait_for_party(delivery: OutboxDelivery, partner: Partner, token: str, exc: PartyNotConnected) -> str:
    """The Hub reports the addressed party as not CONNECTED: keep the delivery pending (no attempt counted, the
    partner's circuit untouched) until outbox_wake_party releases it, re-checked every
    OCPI_OUTBOX_PARTY_RECHECK_SECONDS as a safety net."""
    now = _now()
    recheck = timedelta(seconds=outbox_setting("OCPI_OUTBOX_PARTY_RECHECK_SECONDS"))
    note = f"{_waiting_note(exc.party)} {exc.status}"
    _reschedule(
        delivery.pk, partner_id=delivery.partner_id, at=now + recheck, token=token, action="WAIT", note=note[:255]
    )
    # The party may have come back while we were deciding: its wake-up could have missed this row.
    if hub_party_status(partner=partner, party=exc.party) == "CONNECTED":
        _reschedule(delivery.pk, partner_id=delivery.partner_id, at=_now())
        return "resend"
    logger.info("Outbox: delivery %s waits for party %s (%s) at hub %s", delivery.pk, exc.party, exc.status, partner.pk)
    return "waiting"


def outbox_wake_party(*, partner_id: int, party: PartyRef) -> int:
    """Release the deliveries of a (Hub) partner that wait for `party` (it is CONNECTED again): due now."""
    now = _now()
    waiting = OutboxDelivery.objects.filter(
        partner_id=partner_id, state=OutboxState.PENDING, note__startswith=_waiting_note(party)
    ).filter(_free_claim())
    ids = list(waiting.order_by("next_attempt_at", "pk").values_list("pk", flat=True))
    OutboxDelivery.objects.filter(pk__in=ids, state=OutboxState.PENDING).filter(_free_claim()).update(
        next_attempt_at=now, queued_at=now, note="", updated_at=now
    )
    for pk in ids:
        _schedule(pk, partner_id=partner_id)
    return len(ids)


def _error_fields(exc: Exception) -> dict[str, Any]:
    fields: dict[str, Any] = {"last_error": f"{exc.__class__.__name__}: {exc}"[:4000]}
    if isinstance(exc, OcpiClientError):
        fields["last_http_status"] = exc.http_status
        fields["last_ocpi_status"] = (
            exc.ocpi_status if exc.ocpi_status is None or 0 <= exc.ocpi_status < 32768 else None
        )
    return fields


def _retry_or_die(delivery: OutboxDelivery, token: str, exc: Exception, delay: timedelta) -> str:
    attempts = delivery.attempts + 1
    fields = {**_error_fields(exc), "attempts": attempts}
    if attempts >= outbox_setting("OCPI_OUTBOX_MAX_ATTEMPTS") and _finish(delivery, token, OutboxState.DEAD, **fields):
        logger.warning("Outbox: delivery %s dead-lettered after %s attempts: %s", delivery.pk, attempts, exc)
        _pump_after(delivery)
        return "dead"
    # Not dead yet, or a change merged in meanwhile (it deserves its own attempt).
    _reschedule(delivery.pk, partner_id=delivery.partner_id, at=_now() + delay, token=token, **fields)
    _pump_after(delivery)  # our slot is free until the retry
    return "retry"


def _on_transient(
    delivery: OutboxDelivery,
    partner: Partner,
    pstate: OutboxPartnerState,
    token: str,
    exc: OcpiTransientError,
    *,
    probing: bool = True,
) -> str:
    now = _now()
    failures = pstate.consecutive_failures + 1
    if exc.retry_after is not None:
        # 429: no request to this partner before Retry-After (jitter only ever adds).
        partner_delay = timedelta(seconds=exc.retry_after)
        delay = partner_delay + _jitter(1.0)
    else:
        partner_delay = _backoff(failures)
        delay = max(_backoff(delivery.attempts + 1), partner_delay)
    until = now + partner_delay
    # A probe's own failure sets the next probe time. A send that started before the partner was known to be
    # failing must never shorten a probe's lock, or two probes would run at once (found by tests/faults).
    blocked_until = until if probing else Greatest(Coalesce(F("blocked_until"), Value(until)), Value(until))
    OutboxPartnerState.objects.filter(pk=pstate.pk).update(
        consecutive_failures=F("consecutive_failures") + 1,
        blocked_until=blocked_until,
        last_failure_at=now,
        last_error=str(exc)[:2000],
    )
    logger.info("Outbox: delivery %s to partner %s failed (%s); retry in %s", delivery.pk, partner.pk, exc, delay)
    return _retry_or_die(delivery, token, exc, delay)


def _on_permanent(delivery: OutboxDelivery, token: str, exc: OcpiPermanentError) -> str:
    fields = {**_error_fields(exc), "attempts": delivery.attempts + 1}
    if _finish(delivery, token, OutboxState.FAILED, **fields):
        logger.warning("Outbox: delivery %s failed permanently: %s", delivery.pk, exc)
        _pump_after(delivery)
        return "failed"
    # The object changed while we were sending: the new state may well be accepted.
    _reschedule(delivery.pk, partner_id=delivery.partner_id, at=_now(), token=token, **fields)
    return "resend"


def _on_error(delivery: OutboxDelivery, token: str, exc: Exception) -> str:
    return _retry_or_die(delivery, token, exc, _backoff(delivery.attempts + 1))


# --- Beat and staff actions -----------------------------------------------------------------------


def outbox_requeue_due(*, grace_seconds: float | None = None) -> int:
    """Beat: queue a task for every due delivery whose task is missing (broker flushed, worker killed).

    A row counts as lost when it is due, not leased, and its last queued task should have run more than
    `grace_seconds` (default OCPI_OUTBOX_REQUEUE_GRACE_SECONDS) ago. Blocked partners are left alone (their
    probe wakes them). The in-process beat of `make run` passes 0: under eager Celery no task ever waits in a
    broker (ocpi_platform/inprocess_beat.py).
    """
    now = _now()
    if grace_seconds is None:
        grace_seconds = outbox_setting("OCPI_OUTBOX_REQUEUE_GRACE_SECONDS")
    grace = timedelta(seconds=grace_seconds)
    due = (
        OutboxDelivery.objects.filter(state=OutboxState.PENDING, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lte=now - grace))
        .exclude(partner__outbox_state__blocked_until__gt=now)
    )
    batch = int(outbox_setting("OCPI_OUTBOX_REQUEUE_BATCH"))
    queued = 0
    for partner_id in sorted(set(due.values_list("partner_id", flat=True))):
        ids = list(
            due.filter(partner_id=partner_id).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:batch]
        )
        due.filter(pk__in=ids).update(queued_at=now)
        for pk in ids:
            _schedule(pk, partner_id=partner_id)
        queued += len(ids)
    if queued:
        logger.info("Outbox: re-queued %s due deliveries", queued)
    return queued


@transaction.atomic
def outbox_retry(*, delivery: OutboxDelivery) -> OutboxDelivery:
    """Staff: send a failed or dead-lettered delivery again now (with the object's current state)."""
    delivery = OutboxDelivery.objects.select_for_update().get(pk=delivery.pk)
    if delivery.state not in (OutboxState.FAILED, OutboxState.DEAD):
        raise ValueError(f"Delivery {delivery.pk} is {delivery.state}; only failed or dead deliveries can be retried")
    now = _now()
    open_row = (
        OutboxDelivery.objects.select_for_update()
        .filter(partner_id=delivery.partner_id, module=delivery.module, object_id=delivery.object_id)
        .filter(state=OutboxState.PENDING)
        .first()
    )
    if open_row is not None:
        # A newer delivery of the same object is pending: it carries this one's changes too.
        OutboxDelivery.objects.filter(pk=open_row.pk).update(
            hint=hint_merge(open_row.hint, delivery.hint), revision=F("revision") + 1, next_attempt_at=now
        )
        delivery.state = OutboxState.SUPERSEDED
        delivery.note = f"retried via delivery {open_row.pk}"
        delivery.save(update_fields=["state", "note", "updated_at"])
        target = open_row.pk
    else:
        delivery.state = OutboxState.PENDING
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.queued_at = now
        delivery.finished_at = None
        delivery.note = "retried by staff"
        delivery.save(
            update_fields=["state", "attempts", "next_attempt_at", "queued_at", "finished_at", "note", "updated_at"]
        )
        target = delivery.pk
    partner_id = delivery.partner_id
    transaction.on_commit(lambda: _schedule(target, partner_id=partner_id), robust=True)
    return delivery


def outbox_dead_letter(*, delivery: OutboxDelivery, reason: str = "dead-lettered by staff") -> OutboxDelivery:
    """Staff: stop trying a pending delivery (kept, visible and retryable)."""
    now = _now()
    updated = OutboxDelivery.objects.filter(pk=delivery.pk, state=OutboxState.PENDING).update(
        state=OutboxState.DEAD, claimed_until=None, claim_token="", finished_at=now, updated_at=now, note=reason[:255]
    )
    if not updated:
        raise ValueError(f"Delivery {delivery.pk} is not pending")
    delivery.refresh_from_db()
    return delivery


def outbox_purge_finished(*, older_than_days: int | None = None) -> int:
    """Beat: drop delivered, skipped and superseded deliveries older than OCPI_OUTBOX_RETENTION_DAYS, so the
    table (and the per-partner counts over it) stays bounded. Failed and dead-lettered rows stay for staff;
    what each partner holds is kept in OutboxSync, its last success in OutboxPartnerState."""
    days = settings.OCPI_OUTBOX_RETENTION_DAYS if older_than_days is None else older_than_days
    finished = (OutboxState.DELIVERED, OutboxState.SKIPPED, OutboxState.SUPERSEDED)
    cutoff = _now() - timedelta(days=days)
    deleted, _ = OutboxDelivery.objects.filter(state__in=finished, finished_at__lt=cutoff).delete()
    if deleted:
        logger.info("Outbox: purged %s finished deliveries older than %s days", deleted, days)
    return deleted
