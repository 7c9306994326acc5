"""A partner's drain: one task sends every due delivery of one partner, in order, over one kept-alive connection.

Instead of a Celery task per delivery (load, claim, slot check, send, finish, pump: about 16 ms of worker CPU per
request), `outbox_drain(partner_id)`:

* holds the partner's lane: a PostgreSQL session advisory lock per partner (released by PostgreSQL when the worker
  dies with its connection, so a killed drain never blocks its partner); a drain that finds the lane taken returns
  at once. At most one drain per partner sends, so the partner receives one request at a time, in order;
* claims a batch of due deliveries in one statement (UPDATE ... WHERE id IN (SELECT ... ORDER BY ... FOR UPDATE
  SKIP LOCKED LIMIT n) RETURNING ...), leasing them as outbox_deliver does (claimed_until + claim_token), live
  changes before an initial sync's backlog (parked rows are the drain's own: no pump needed);
* sends them in order, each with the object's current state (the module's push function, as outbox_deliver);
* finishes the successful ones in bulk (one UPDATE per action and note); a row a change merged into while it was
  being sent keeps its lease token and is released due now: the loop sends it again with the newer state;
* handles every failed row as outbox_deliver does (backoff, Retry-After, circuit breaker and one probe at a
  time, permanent failure, dead letter, party behind a Hub waiting); a partner that fails transiently stops the
  drain (its other rows stay due, untouched, for the drain queued at the end of the block);
* loops until nothing is due or OCPI_OUTBOX_DRAIN_SECONDS passed (then re-queues itself, so partners share
  the worker pool), and before returning queues itself for the partner's next retry (if within
  OCPI_OUTBOX_MAX_COUNTDOWN_SECONDS; later ones are the beat's, as before).

Queuing (services.schedule_drain): one pending drain per partner (a key set with NX in the shared cache, cleared
by the drain when it holds the lane). A drain that releases the lane clears the key again and looks once more
for due rows, so a change committed while it was finishing is never left to the beat. The beat
(outbox_requeue_due) queues a drain for every partner with due rows whose task was lost.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Min, Q

from ocpi_platform.ocpi.client import OcpiPermanentError, OcpiTransientError
from partners.hubclientinfo import PartyNotConnected
from partners.message_log import message_log_collect
from partners.models import OutboxDelivery, OutboxPartnerState, OutboxState, OutboxSync, Partner, PartnerState

from . import services as s
from .registry import PushResult, UnknownOutboxModule, get_module

logger = logging.getLogger(__name__)

DRAIN_LOCK_CLASS = 0x0C91_0002  # pg_try_advisory_lock(class, partner id): the partner's lane (any unused constant)


# --- The lane -----------------------------------------------------------------------------------------------


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _lock(partner_id: int) -> bool:
    if not _postgres():
        return True  # SQLite (`make run`, quick tests): one process, eager tasks; the row leases still hold
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [DRAIN_LOCK_CLASS, partner_id])
        return bool(cursor.fetchone()[0])


def _unlock(partner_id: int) -> None:
    if not _postgres():
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [DRAIN_LOCK_CLASS, partner_id])
    except Exception:  # a broken connection took the lock with it
        logger.exception("Outbox: could not release the drain lock of partner %s", partner_id)


# --- Claiming ---------------------------------------------------------------------------------------------------

_COLUMNS = ("id", "partner_id", "module", "object_id", "hint", "revision", "attempts", "note", "next_attempt_at")


def _claimable(partner_id: int, now: datetime) -> Any:
    """Due rows of the partner nobody sends, and its parked rows (they wait for the drain, not for their time)."""
    return (
        OutboxDelivery.objects.filter(partner_id=partner_id, state=OutboxState.PENDING)
        .filter(s._free_claim())
        .filter(Q(next_attempt_at__lte=now + s._DUE_TOLERANCE) | s._parked())
    )


def _claim_batch(partner: Partner, now: datetime, limit: int, token: str) -> list[OutboxDelivery]:
    """Lease up to `limit` claimable rows of the partner, live changes first, oldest first."""
    until = now + s._lease(partner) + timedelta(seconds=s.outbox_setting("OCPI_OUTBOX_DRAIN_SECONDS"))
    if _postgres():
        table = OutboxDelivery._meta.db_table
        sql = f"""
            UPDATE {table} SET claimed_until = %(until)s, claim_token = %(token)s, queued_at = NULL
            WHERE id IN (
                SELECT id FROM {table}
                WHERE partner_id = %(partner)s AND state = 'PENDING'
                  AND (claimed_until IS NULL OR claimed_until <= %(now)s)
                  AND (next_attempt_at <= %(due)s
                       OR (note = ANY(%(parked)s) AND attempts = 0 AND queued_at IS NULL))
                ORDER BY (note = %(backlog)s AND attempts = 0 AND queued_at IS NULL), next_attempt_at, id
                LIMIT %(limit)s
                FOR UPDATE SKIP LOCKED
            )
            RETURNING {", ".join(_COLUMNS)}
        """
        params: dict[str, Any] = {
            "until": until,
            "token": token,
            "partner": partner.pk,
            "now": now,
            "due": now + s._DUE_TOLERANCE,
            "parked": list(s.PARKED_NOTES),
            "backlog": s.BACKLOG_NOTE,
            "limit": limit,
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = [dict(zip(_COLUMNS, row, strict=True)) for row in cursor.fetchall()]
        hint_field = OutboxDelivery._meta.get_field("hint")
        deliveries = []
        for row in rows:
            row["hint"] = hint_field.from_db_value(row["hint"], None, connection)  # type: ignore[arg-type]
            deliveries.append(OutboxDelivery(**{"pk" if k == "id" else k: v for k, v in row.items()}))
    else:
        ids = list(_claimable(partner.pk, now).order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:limit])
        _claimable(partner.pk, now).filter(pk__in=ids).update(claimed_until=until, claim_token=token, queued_at=None)
        deliveries = list(OutboxDelivery.objects.filter(claim_token=token, state=OutboxState.PENDING))
    backlog = {d.pk for d in deliveries if d.note == s.BACKLOG_NOTE and d.attempts == 0}
    deliveries.sort(key=lambda d: (d.pk in backlog, d.next_attempt_at, d.pk))
    for delivery in deliveries:
        delivery.claim_token = token
        delivery.partner = partner
    return deliveries


def _release(token: str, ids: list[int]) -> None:
    """Give back claimed rows we did not send (time budget, partner blocked): due as they were."""
    if ids:
        OutboxDelivery.objects.filter(pk__in=ids, claim_token=token, state=OutboxState.PENDING).update(
            claimed_until=None, claim_token=""
        )


# --- Finishing ------------------------------------------------------------------------------------------------


def _finish_batch(token: str, done: list[tuple[OutboxDelivery, PushResult]]) -> None:
    """Mark the rows sent (or skipped) in bulk: one UPDATE per (state, action, note), each row only at the
    revision it was sent at. A row a change merged into meanwhile still holds `token`: released due now, the
    loop sends its newer state."""
    if not done:
        return
    groups: dict[tuple[str, str, str], list[OutboxDelivery]] = defaultdict(list)
    for delivery, result in done:
        outcome = str(OutboxState.DELIVERED if result.sent else OutboxState.SKIPPED)
        groups[(outcome, result.action[:8], result.note[:255])].append(delivery)
    now = s._now()
    finished = 0
    for (state, action, note), rows in groups.items():
        same_revision = Q()
        for row in rows:
            same_revision |= Q(pk=row.pk, revision=row.revision)
        finished += OutboxDelivery.objects.filter(same_revision, claim_token=token, state=OutboxState.PENDING).update(
            state=state,
            action=action,
            note=note,
            last_error="",
            claimed_until=None,
            claim_token="",
            finished_at=now,
            updated_at=now,
            queued_at=None,
        )
    if finished == len(done):
        return  # no change merged into a row while it was sent (the usual case): nothing to release
    OutboxDelivery.objects.filter(pk__in=[d.pk for d, _ in done], claim_token=token, state=OutboxState.PENDING).update(
        claimed_until=None, claim_token="", next_attempt_at=now, updated_at=now
    )


# --- One send ----------------------------------------------------------------------------------------------------


class _Stop(Exception):  # control flow inside the drain, never raised out of it
    """The partner failed transiently (or is being probed by another send): stop sending to it."""


def _syncs(partner: Partner, rows: list[OutboxDelivery]) -> dict[tuple[str, int], OutboxSync]:
    """The partner's sync rows of a batch's objects, in one query per module; the missing ones (objects the
    partner was never sent) are created with one insert and read again."""
    by_module: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_module[row.module].append(row.object_id)
    found: dict[tuple[str, int], OutboxSync] = {}
    for module, object_ids in by_module.items():
        for sync in OutboxSync.objects.filter(partner=partner, module=module, object_id__in=object_ids):
            found[(module, sync.object_id)] = sync
        missing = sorted({pk for pk in object_ids if (module, pk) not in found})
        if missing:
            OutboxSync.objects.bulk_create(
                [OutboxSync(partner=partner, module=module, object_id=pk) for pk in missing], ignore_conflicts=True
            )
            for sync in OutboxSync.objects.filter(partner=partner, module=module, object_id__in=missing):
                found[(module, sync.object_id)] = sync
    return found


def _send(
    delivery: OutboxDelivery,
    partner: Partner,
    pstate: OutboxPartnerState,
    probing: bool,
    done: list[tuple[OutboxDelivery, PushResult]],
    sync: OutboxSync | None,
    synced: list[tuple[OutboxSync, PushResult]],
) -> None:
    """Push one claimed row; a success is collected in `done` (finished in bulk) and its sync record in `synced`
    (recorded in bulk), a failure handled at once as outbox_deliver handles it. Raises _Stop when the partner
    should not get more requests now."""
    token = delivery.claim_token
    try:
        spec = get_module(delivery.module)
    except UnknownOutboxModule as exc:
        s._on_error(delivery, token, exc)
        return
    if sync is None:
        sync, _ = OutboxSync.objects.get_or_create(
            partner=partner, module=delivery.module, object_id=delivery.object_id
        )
    try:
        result = spec.push(partner=partner, object_id=delivery.object_id, hint=dict(delivery.hint), sync=sync)
    except PartyNotConnected as exc:
        if probing:
            OutboxPartnerState.objects.filter(pk=pstate.pk).update(blocked_until=s._now())
        s._wait_for_party(delivery, partner, token, exc)
        return
    except OcpiTransientError as exc:
        s._on_transient(delivery, partner, pstate, token, exc, probing=probing)
        raise _Stop from exc
    except OcpiPermanentError as exc:
        s._partner_answered(partner, pstate)
        s._on_permanent(delivery, token, exc)
        return
    except Exception as exc:
        logger.exception(
            "Outbox: push of %s #%s to partner %s crashed", delivery.module, delivery.object_id, partner.pk
        )
        if probing:
            OutboxPartnerState.objects.filter(pk=pstate.pk).update(blocked_until=s._now())
        s._on_error(delivery, token, exc)
        return
    synced.append((sync, result))
    done.append((delivery, result))


# --- The drain -------------------------------------------------------------------------------------------------


def outbox_drain(*, partner_id: int) -> dict[str, Any]:
    """Send the partner's due deliveries (the task body; safe to run twice, late or concurrently: a second drain
    of the partner finds the lane taken and returns). Returns counts for logs and tests."""
    report: dict[str, Any] = {"sent": 0, "finished": 0, "failed": 0, "batches": 0, "outcome": "idle"}
    # One budget for the whole task, however often it takes the lane again (each hold used to get a fresh one, so
    # a drain that found new rows just after going idle ran on: 17 s seen with a 5 s budget).
    budget = time.monotonic() + s.outbox_setting("OCPI_OUTBOX_DRAIN_SECONDS")
    while True:
        if not _lock(partner_id):
            report["outcome"] = "busy"
            return report
        s.drain_started(partner_id)
        s._draining.partner_id = partner_id
        try:
            outcome = _drain_locked(partner_id, report, budget)
        finally:
            s._draining.partner_id = None
            _unlock(partner_id)
        report["outcome"] = outcome
        # A change committed while we were finishing found our key set and queued no drain: look once more.
        s.drain_started(partner_id)
        if outcome != "idle" or not _claimable(partner_id, s._now()).exists():
            break
    if outcome == "budget":
        s.schedule_drain(partner_id, force=True)  # to the back of the queue: other partners' drains run first
    elif outcome == "rate-limited":
        s.schedule_drain(partner_id, report["retry_in"])
    elif outcome in ("idle", "blocked", "stopped"):
        _schedule_next(partner_id)
    return report


def _drain_locked(partner_id: int, report: dict[str, Any], budget: float) -> str:
    partner = Partner.objects.filter(pk=partner_id).first()
    if partner is None:
        return "gone"
    # The partner's endpoint URL, addressed party and (a Hub's) party status, read once for this drain
    # (partner_endpoint_url, partner_party, hub_party_check: a party that is not CONNECTED is read per send).
    partner._drain_memo = {}  # type: ignore[attr-defined]
    batch_size = int(s.outbox_setting("OCPI_OUTBOX_DRAIN_BATCH"))
    pstate = s._partner_state(partner)
    fresh = True  # just read: the first loop needs no refresh
    while True:
        now = s._now()
        if time.monotonic() > budget:
            return "budget"
        token = uuid.uuid4().hex
        if partner.state != PartnerState.REGISTERED:
            rows = _claim_batch(partner, now, batch_size, token)
            if not rows:
                return "idle"
            OutboxDelivery.objects.filter(claim_token=token, state=OutboxState.PENDING).update(
                state=OutboxState.SKIPPED,
                action="SKIP",
                note="partner not registered",
                claimed_until=None,
                claim_token="",
                finished_at=now,
                updated_at=now,
                queued_at=None,
            )
            report["finished"] += len(rows)
            continue
        if not fresh:
            pstate.refresh_from_db()
        fresh = False
        if pstate.blocked_until and pstate.blocked_until > now:
            return "blocked"
        probing = pstate.consecutive_failures > 0
        rows = _claim_batch(partner, now, 1 if probing else batch_size, token)
        if not rows:
            return "idle"
        report["batches"] += 1
        if probing:
            # The partner failed lately: this one delivery finds out whether it is back (as outbox_deliver).
            acquired = (
                OutboxPartnerState.objects.filter(pk=pstate.pk)
                .filter(Q(blocked_until__isnull=True) | Q(blocked_until__lte=now))
                .update(blocked_until=now + s._lease(partner))
            )
            if not acquired:
                _release(token, [r.pk for r in rows])
                return "blocked"
        outcome = _send_batch(partner, pstate, probing, token, rows, budget, report)
        if outcome:
            return outcome


def _send_batch(
    partner: Partner,
    pstate: OutboxPartnerState,
    probing: bool,
    token: str,
    rows: list[OutboxDelivery],
    budget: float,
    report: dict[str, Any],
) -> str:
    """Send a claimed batch in order, finish the successes in bulk, give back what was not sent. Returns why it
    stopped early ("budget", "rate-limited", "stopped") or "" when the whole batch went out.

    The batch's database writes do not grow with it: its sync rows are read (and the missing ones created) at
    the start, the successes' sync records written with one UPDATE, its outbound message log rows with one
    INSERT, and its rows finished with one UPDATE per outcome."""
    done: list[tuple[OutboxDelivery, PushResult]] = []
    synced: list[tuple[OutboxSync, PushResult]] = []
    outcome = ""
    sent_ids: set[int] = set()
    syncs = _syncs(partner, rows)
    pause = s.outbox_setting("OCPI_OUTBOX_DRAIN_MAX_PAUSE_SECONDS")
    with message_log_collect():  # the batch's outbound log rows: one INSERT when the batch ends
        for delivery in rows:
            if time.monotonic() > budget:
                outcome = "budget"
                break
            wait = s._rate_limit_wait(partner, pstate, s._now())
            while wait is not None and wait.total_seconds() <= pause:
                time.sleep(wait.total_seconds())  # the partner's own lane: pacing it costs no other partner
                wait = s._rate_limit_wait(partner, pstate, s._now())
            if wait is not None:
                report["retry_in"] = wait.total_seconds()
                outcome = "rate-limited"
                break
            sent_ids.add(delivery.pk)
            try:
                sync = syncs.get((delivery.module, delivery.object_id))
                _send(delivery, partner, pstate, probing, done, sync, synced)
            except _Stop:
                outcome = "stopped"
                break
    report["sent"] += len(sent_ids)
    report["failed"] += len(sent_ids) - len(done)
    s._record_syncs(synced)
    if any(result.sent for _, result in done):
        _answered(partner, pstate)
    elif probing and done:
        # The probe was skipped (nothing sent): let another one probe. A probe that failed has set the next probe
        # time itself (_on_transient), and the other outcomes released the probe in _send.
        OutboxPartnerState.objects.filter(pk=pstate.pk).update(blocked_until=s._now())
    _finish_batch(token, done)
    report["finished"] += len(done)
    _release(token, [r.pk for r in rows if r.pk not in sent_ids])
    return outcome


_SUCCESS_STAMP = timedelta(seconds=1)  # a drain records the partner's last success at most this often


def _answered(partner: Partner, pstate: OutboxPartnerState) -> None:
    """s._partner_answered (closes the circuit and wakes the rows that waited for it) when the partner had failed
    as of this drain's last look at its state; else only its last success time, at most once a second: two
    UPDATEs that changed nothing per batch, a batch every few requests under load. A failure recorded since that
    look (by another process) is cleared by the probe the next loop sends. (A past `blocked_until` with no
    failures, a released probe's, is nothing to close: _partner_answered only clears a circuit with failures.)"""
    if pstate.consecutive_failures:
        s._partner_answered(partner, pstate)
        return
    now = s._now()
    if pstate.last_success_at is None or now - pstate.last_success_at >= _SUCCESS_STAMP:
        OutboxPartnerState.objects.filter(pk=pstate.pk).update(last_success_at=now)
        pstate.last_success_at = now


def _schedule_next(partner_id: int) -> None:
    """Queue the drain for the partner's next row that falls due (a retry, the end of a block), if soon."""
    now = s._now()
    nxt = (
        OutboxDelivery.objects.filter(partner_id=partner_id, state=OutboxState.PENDING)
        .filter(s._free_claim())
        .aggregate(m=Min("next_attempt_at"))["m"]
    )
    blocked = OutboxPartnerState.objects.filter(partner_id=partner_id).values_list("blocked_until", flat=True).first()
    if nxt is None:
        return
    at = max(nxt, blocked) if blocked else nxt
    countdown = (at - now).total_seconds()
    # Nothing claimable is due now (we just looked): rows a transaction still locks get a drain from its commit.
    if 0 < countdown <= s.outbox_setting("OCPI_OUTBOX_MAX_COUNTDOWN_SECONDS"):
        s.schedule_drain(partner_id, countdown + 0.05)
