"""The rules every Receiver of objects pushed (or served to our pull) by partners applies: one kernel.

An app's `<entity>_receive` service (locations, tariffs, tokens, sessions, cdrs) uses these:

- `receive_party_check`: a partner writes only under a party it registered in the right role, never under a
  party hosted by this platform.
- `receive_claim`: an object another partner sent is never taken over. A PATCH of one is answered as for an
  unknown object; a full write is refused, with a message naming only what the caller addressed.
- `receive_is_stale`: a push older than the object we hold is ignored and logged (replays and out-of-order
  deliveries are harmless); an equal one is applied again (idempotent).
- `receive_retrying`: a create that loses a race with a concurrent create of the same object (IntegrityError)
  is run once more in a new transaction, where it finds the row and applies as an update (or is stale).
- `Received`: the outcome (object, created, stale).

Knows no app: the apps pass their objects, exception classes and loggers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import IntegrityError, transaction

from .models import Partner, Party

T = TypeVar("T")


@dataclass(frozen=True)
class Received:
    """Outcome of storing a received object: `stale` means it was older than ours and ignored."""

    obj: Any
    created: bool
    stale: bool = False


class ReceiveNotAllowedError(Exception):
    """The partner may not write or read this object: a party of this platform, a party the partner did not
    register (in the right role), or an object another partner sent (ReceiveObjectNotAllowedError)."""


class ReceiveObjectNotAllowedError(ReceiveNotAllowedError):
    """The object exists under the partner's party but another partner sent it. Its message names only what the
    caller addressed, never the stored object or the other partner."""


def party_is_of_platform(*, country_code: str, party_id: str) -> bool:
    """Whether (country_code, party_id) is a party this platform hosts, in any role, active or not."""
    return Party.objects.filter(country_code__iexact=country_code, party_id__iexact=party_id).exists()


def receive_party_check(
    *,
    partner: Partner,
    country_code: str,
    party_id: str,
    roles: Collection[str] | None,
    error: type[Exception] = ReceiveNotAllowedError,
    ours: str = "a party of this platform",
) -> None:
    """A partner writes only under a party it registered (in one of `roles`), never under one of ours.

    `roles` None: the caller has checked the partner holds the party (the view's owned_party); only a party of
    this platform is refused. Raises `error` with "<cc>/<pid> is <ours>" or "... is not a party registered by
    this partner".
    """
    if party_is_of_platform(country_code=country_code, party_id=party_id):
        raise error(f"{country_code}/{party_id} is {ours}")
    if roles is not None and not partner.holds_party(country_code, party_id, roles=roles):
        raise error(f"{country_code}/{party_id} is not a party registered by this partner")


def receive_claim(
    obj: T | None,
    *,
    partner: Partner,
    partial: bool,
    refusal: Callable[[], Exception],
    unclaimed_is_free: bool = False,
) -> T | None:
    """The stored object as `partner` may write it.

    Another partner's object (received_from set to another partner; with `unclaimed_is_free` False also one
    with no sender) is None for a PATCH (answered as for an unknown object) and raises `refusal()` for a full
    write: it is never taken over.
    """
    if obj is None:
        return None
    sender = getattr(obj, "received_from_id", None)
    if sender == partner.pk or (sender is None and unclaimed_is_free):
        return obj
    if partial:
        return None
    raise refusal()


def receive_is_stale(
    obj: Any, *, last_updated: datetime, partner: Partner, log: logging.Logger, name: str | None = None
) -> bool:
    """Whether a push with this `last_updated` is older than the stored `obj` (then it is logged on `log`).

    Equal is not stale: the same push again is applied again (idempotent). No stored object or no stored
    last_updated: not stale.
    """
    if obj is None or obj.last_updated is None or last_updated >= obj.last_updated:
        return False
    log.info(
        "Ignored stale %s %s from partner %s: last_updated %s older than stored %s",
        name or type(obj).__name__,
        obj,
        partner.pk,
        last_updated,
        obj.last_updated,
    )
    return True


def receive_retrying(apply: Callable[[], T], *, log: logging.Logger, what: str) -> T:
    """Run `apply` in a transaction (a savepoint inside the caller's); when it loses a race with a concurrent
    create of the same object (IntegrityError), run it once more: it then finds the row and applies as an update
    (or is stale). A second IntegrityError propagates."""
    try:
        with transaction.atomic():
            return apply()
    except IntegrityError:
        log.info("Concurrent create of %s; retrying as update", what)
        with transaction.atomic():
            return apply()
