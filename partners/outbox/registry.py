"""Which modules push through the outbox: per module an audience (who gets an object) and a push function."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ocpi_platform.ocpi.headers import PartyRef

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from partners.models import Partner

logger = logging.getLogger(__name__)

SKIP = "SKIP"
# Parties of a partner that receive CPO data (locations, tariffs), in the order we address them.
CPO_DATA_RECEIVER_ROLES = ("EMSP", "NSP", "NAP", "OTHER", "HUB")


class UnknownOutboxModule(LookupError):
    """No app registered this outbox module name (a typo, or its app is not in INSTALLED_APPS)."""


@dataclass(frozen=True)
class PushResult:
    """What a push function did; the outbox records it in the delivery and the partner's sync-state row.

    action: the HTTP method sent ("PUT", "PATCH", "DELETE", "POST") or "SKIP" when nothing was sent.
    last_updated: the object's `last_updated` the partner now holds (sync rows never move backwards).
    exists: True when the partner now holds a whole copy that PATCHes can build on (after a PUT/POST); False
        when it does not (after a DELETE, or a skipped change it will not get: the next send must be a PUT);
        None: unchanged.
    data: merged into the sync row's free JSON (e.g. the URL a CDR was POSTed to, the URL of a PUT).
    """

    action: str
    last_updated: datetime | None = None
    exists: bool | None = None
    data: dict[str, Any] | None = None
    note: str = ""

    @classmethod
    def skip(cls, note: str) -> PushResult:
        return cls(action=SKIP, note=note)

    @property
    def sent(self) -> bool:
        return self.action != SKIP


@dataclass(frozen=True)
class OutboxModule:
    name: str
    audience: Callable[[int], Iterable[Partner]]
    push: Callable[..., PushResult]
    # Initial sync (partners/outbox/initial_sync.py): the ids of every object `partner` should hold, as a
    # queryset (paged by pk), or None when the partner is not in this module's audience. None: no initial sync.
    snapshot: Callable[[Partner], QuerySet[Any] | None] | None = None
    # Pacing (e.g. session progress PATCHes): when the open delivery of a change should be sent, see register_module.
    pace: Callable[..., datetime | None] | None = None


_registry: dict[str, OutboxModule] = {}


def register_module(
    module: str,
    *,
    audience: Callable[[int], Iterable[Partner]],
    push: Callable[..., PushResult],
    snapshot: Callable[[Partner], QuerySet[Any] | None] | None = None,
    pace: Callable[..., datetime | None] | None = None,
) -> None:
    """Declare a module's recipients and its push function `push(*, partner, object_id, hint, sync)`, and
    optionally `snapshot(partner)`: what a partner that just connected receives (initial sync), and
    `pace(*, partner_id, object_id, hint, scheduled_at, last_sent, now)`: called by outbox_enqueue for the open
    delivery of a change (not in backoff, not being sent), with its merged hint, its send time, and when the
    partner last got a copy it holds for certain (None: it holds none); returns the time the delivery should be
    sent at instead, or None to leave it.

    Called from each app's AppConfig.ready() (e.g. locations/apps.py with locations/push.py). Registering again
    replaces the previous registration (AppConfig.ready may run more than once in tests).
    """
    _registry[module] = OutboxModule(name=module, audience=audience, push=push, snapshot=snapshot, pace=pace)


def unregister_module(module: str) -> None:
    """For tests that register a throw-away module."""
    _registry.pop(module, None)


def get_module(module: str) -> OutboxModule:
    """The registration of `module`; UnknownOutboxModule when no app registered it."""
    try:
        return _registry[module]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none"
        raise UnknownOutboxModule(f"Outbox module {module!r} is not registered (registered: {known})") from None


def registered_modules() -> tuple[str, ...]:
    """The names of the registered outbox modules, sorted."""
    return tuple(sorted(_registry))


def partner_party(partner: Partner, roles: Iterable[str]) -> PartyRef | None:
    """The partner's party to address (OCPI-to-* headers): its first role among `roles`, in that order.

    Locations/tariffs go to ("EMSP", "NSP", "NAP", "OTHER", "HUB"); tokens to ("CPO", "HUB"). A Hub is addressed
    itself (Broadcast Push, transport.md 8.2).
    """
    wanted = list(roles)
    memo = getattr(partner, "_drain_memo", None)  # read once per outbox drain (partners/outbox/drain.py)
    key = ("party", *wanted)
    if memo is not None and key in memo:
        return memo[key]
    party = None
    found = {r.role: r for r in partner.roles.filter(role__in=wanted).order_by("pk")}
    for role in wanted:
        if role in found:
            party = PartyRef.of(found[role].country_code, found[role].party_id)
            break
    if memo is not None:
        memo[key] = party
    return party
