"""Pull synchronisation (eMSP role): GET a partner CPO's Locations, Tariffs, Sessions and CDRs Sender lists.

Pull is the fallback every receiver must support (transport.md 3). A crawl follows `Link rel="next"`
(OcpiClient.iter_pages) from `?limit=<partner.page_limit>`; each object is validated with the module's canonical
serializer and stored through the module's Receiver service, exactly like a push (each app's `<app>/pull.py`,
registered with partners/pull_registry.py in its AppConfig.ready()):

* an invalid object, or one whose owner is not a party the partner registered (or is one of ours), is logged
  with the partner and its id and skipped; the rest of the page is stored and the crawl goes on (checklist 48);
* progress (next page URL, counts, X-Total-Count) is saved in PullState after every page: a crawl that failed
  (timeout, 5xx, worker killed) continues from its next page on the next run (pages already stored are not
  fetched again);
* if X-Total-Count shrinks between two pages, the previous page is fetched again with its offset lowered by the
  shrink (offset-1 for one object, checklist 45) and the crawl continues from there;
* DELTA pulls use consecutive windows `[date_from, date_to)`: date_from = start of the previous successful
  pull, date_to = start of this one (checklist 46; the first delta pull has no date_from);
* a FULL pull is unfiltered: when it finishes, the partner's Locations not served in any page get their EVSEs
  REMOVED and its Tariffs not served are deleted (transport.md 7.3, checklist 47). Sessions and CDRs are never
  removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ocpi_platform.ocpi.client import OcpiClient, OcpiClientError, OcpiPermanentError
from ocpi_platform.ocpi.envelope import format_datetime
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.wire import V211, WireContext, from_wire

from .client import partner_client
from .models import Partner, Party, PullMode, PullModule, PullSeen, PullState, PullStatus, Role
from .pull_registry import PullContext, PullSkip, UnknownPullModule, get_pull, raw_str
from .selectors import partner_endpoint_url, partner_list_with_endpoint

logger = logging.getLogger(__name__)

MODULES: tuple[str, ...] = tuple(PullModule.values)
# A RUNNING pull whose last page is older than this is considered dead (worker killed) and may be resumed.
RUNNING_LEASE = timedelta(minutes=15)
SENDER = "SENDER"


class PullError(Exception):
    """A pull cannot start: unknown module, no Sender endpoint, no eMSP party of ours."""


@dataclass
class PullReport:
    partner_id: int
    partner_name: str
    module: str
    mode: str
    resumed: bool = False
    busy: bool = False
    pages: int = 0
    total: int | None = None
    stored: int = 0
    skipped: int = 0
    removed: int = 0
    finished: bool = False
    error: str = ""
    transient: bool = False
    date_from: datetime | None = None
    date_to: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.finished and not self.error

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("date_from", "date_to"):
            data[key] = format_datetime(data[key]) if data[key] else None
        return data

    def summary(self) -> str:
        state = "busy (another pull is running)" if self.busy else "done" if self.ok else f"FAILED: {self.error}"
        return (
            f"{self.partner_name} {self.module} {self.mode}{' (resumed)' if self.resumed else ''}: {state}; "
            f"pages {self.pages}, stored {self.stored}, skipped {self.skipped}, removed {self.removed}"
        )


# --- Storing a page (each module's rules: partners/pull_registry.py, registered by its app) ------------


# Always logged and skipped like invalid objects, whatever the module's own refusals.
_REFUSALS: tuple[type[Exception], ...] = (ValidationError, ObjectDoesNotExist, IntegrityError)


# The object each pulled module serves (ocpi_platform.ocpi.wire kinds).
PULL_KINDS = {"locations": "Location", "tariffs": "Tariff", "tokens": "Token", "sessions": "Session", "cdrs": "Cdr"}


def _store_page(ctx: PullContext, module: str, objects: list[Any]) -> tuple[int, int, list[int]]:
    """Store each object in its own transaction -> (stored, skipped, local ids seen)."""
    rules = get_pull(module)
    store, refusals = rules.store, _REFUSALS + rules.refusals
    stored = skipped = 0
    seen: list[int] = []
    version = ctx.partner.version
    wire = WireContext(*(ctx.partner.wire_party or (None, None))) if version == V211 else None
    for served in objects:
        # An object in the partner's version, as 2.2.1 (a 2.1.1 object carries no party: the partner's one).
        raw = from_wire(PULL_KINDS.get(module, module), served, version, wire) if version else served
        try:
            seen.append(store(ctx, raw))
            stored += 1
        except PullSkip as exc:
            skipped += 1
            if exc.local_id is not None:
                seen.append(exc.local_id)  # still served by the partner, only invalid now: not "removed"
            _log_skip(ctx, module, raw, str(exc))
        except refusals as exc:
            skipped += 1
            _log_skip(ctx, module, raw, f"{type(exc).__name__}: {exc}")
    return stored, skipped, seen


def _log_skip(ctx: PullContext, module: str, raw: Any, reason: str) -> None:
    key = "/".join(raw_str(raw, k) or "?" for k in ("country_code", "party_id", "id"))
    logger.warning("Pull %s from partner %s (%s): skipped %s: %s", module, ctx.partner.pk, ctx.partner, key, reason)


# --- Crawl state ------------------------------------------------------------------------------------


def _first_url(base: str, *, limit: int, date_from: datetime | None, date_to: datetime | None) -> str:
    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("offset", "limit", "date_from", "date_to")]
    query.append(("limit", str(limit)))
    if date_from is not None:
        query.append(("date_from", format_datetime(date_from)))
    if date_to is not None:
        query.append(("date_to", format_datetime(date_to)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _lower_offset(url: str, by: int) -> str:
    """The same page URL with its offset lowered by `by` (not below 0)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    offset = next((int(v) for k, v in query if k == "offset" and v.isdigit()), 0)
    query = [(k, v) for k, v in query if k != "offset"] + [("offset", str(max(0, offset - by)))]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _claim(*, partner: Partner, module: str, full: bool, restart: bool, base_url: str) -> tuple[PullState, bool] | None:
    """Mark the (partner, module) pull RUNNING; resume an unfinished crawl unless `restart` or a FULL pull is
    asked while a DELTA one is unfinished. None when another pull of it is running (lease not expired)."""
    PullState.objects.get_or_create(partner=partner, module=module)
    now = timezone.now()
    with transaction.atomic():
        state = PullState.objects.select_for_update().get(partner=partner, module=module)
        if state.status == PullStatus.RUNNING and state.heartbeat_at and state.heartbeat_at > now - RUNNING_LEASE:
            return None
        unfinished = state.status in (PullStatus.RUNNING, PullStatus.FAILED) and bool(state.next_url)
        resume = unfinished and not restart and (state.mode == PullMode.FULL or not full)
        if not resume:
            state.seen.all().delete()
            state.mode = PullMode.FULL if full else PullMode.DELTA
            state.date_to = now
            state.date_from = None if full else state.last_date_to
            state.next_url = _first_url(
                base_url,
                limit=partner.page_limit,
                date_from=state.date_from,
                date_to=None if full else state.date_to,  # FULL is unfiltered: the union is the new truth
            )
            state.page_url = ""
            state.last_total = None
            state.pages = state.objects_stored = state.objects_skipped = state.objects_removed = 0
            state.started_at = now
            state.finished_at = None
        state.status = PullStatus.RUNNING
        state.heartbeat_at = now
        state.last_error = ""
        state.save()
    return state, resume


def _save_page(
    state: PullState,
    *,
    page_url: str,
    next_url: str | None,
    total: int | None,
    stored: int,
    skipped: int,
    seen: Iterable[int],
) -> None:
    with transaction.atomic():
        if state.mode == PullMode.FULL:
            PullSeen.objects.bulk_create(
                [PullSeen(state=state, object_id=pk) for pk in set(seen)], ignore_conflicts=True
            )
        state.pages += 1
        state.objects_stored += stored
        state.objects_skipped += skipped
        state.page_url = page_url
        state.next_url = next_url or ""
        state.last_total = total
        state.heartbeat_at = timezone.now()
        state.save(
            update_fields=[
                "pages",
                "objects_stored",
                "objects_skipped",
                "page_url",
                "next_url",
                "last_total",
                "heartbeat_at",
            ]
        )


def _total(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _crawl(client: OcpiClient, state: PullState, ctx: PullContext, report: PullReport, progress: Any) -> None:
    url: str | None = state.next_url
    while url:
        restart_at = None
        page_url = url
        for result in client.iter_pages(url):
            total = _total(result.headers.get("x-total-count"))
            if total is not None and state.last_total is not None and total < state.last_total and state.page_url:
                # Objects left the list mid-crawl (checklist 45): redo the previous page from a lower offset.
                restart_at = _lower_offset(state.page_url, state.last_total - total)
                logger.info(
                    "Pull %s from partner %s: X-Total-Count fell from %s to %s; redoing %s",
                    state.module,
                    ctx.partner.pk,
                    state.last_total,
                    total,
                    restart_at,
                )
                state.last_total = total
                state.save(update_fields=["last_total"])
                break
            if not isinstance(result.data, list):
                raise OcpiPermanentError(f"GET {page_url}: data is not a list of objects")
            next_url = urljoin(page_url, result.next_link) if result.next_link else None
            if next_url and (not result.data or next_url == page_url):
                # A Sender that would keep us crawling forever; fail (resumable) rather than loop.
                raise OcpiPermanentError(f"GET {page_url}: empty page or self-link with a next Link")
            stored, skipped, seen = _store_page(ctx, state.module, result.data)
            _save_page(
                state, page_url=page_url, next_url=next_url, total=total, stored=stored, skipped=skipped, seen=seen
            )
            report.pages, report.total = state.pages, total
            report.stored, report.skipped = state.objects_stored, state.objects_skipped
            if progress is not None:
                progress(report)
            page_url = next_url or ""
        url = restart_at


# --- Removal after a complete FULL pull -------------------------------------------------------------


def _removal_scope(partner: Partner, to_party: PartyRef | None) -> Q:
    """The partner's own objects: its registered parties (only the addressed one when it has several CPO
    parties: such a Sender may answer for the addressed party only), sent by it or by nobody known."""
    roles = list(partner.roles.values_list("role", "country_code", "party_id"))
    if to_party is not None and sum(1 for role, _, _ in roles if role == Role.CPO) > 1:
        roles = [(Role.CPO, to_party.country_code, to_party.party_id)]
    condition = Q(pk__in=[])
    for _role, cc, pid in roles:
        if not Party.objects.filter(country_code__iexact=cc, party_id__iexact=pid).exists():
            condition |= Q(country_code__iexact=cc, party_id__iexact=pid)
    return condition & (Q(received_from=partner) | Q(received_from__isnull=True))


def _remove_unseen(state: PullState, partner: Partner, to_party: PartyRef | None) -> int:
    remove_unseen = get_pull(state.module).remove_unseen
    if remove_unseen is None:
        return 0
    seen = PullSeen.objects.filter(state=state).values("object_id")
    return remove_unseen(partner, _removal_scope(partner, to_party), seen)


# --- Entry points -----------------------------------------------------------------------------------


def _parties(partner: Partner) -> tuple[PartyRef, PartyRef | None, set[tuple[str, str]]]:
    ours = Party.objects.filter(role=Role.EMSP, active=True).order_by("pk").first()
    if ours is None:
        raise PullError("This platform hosts no active eMSP party to pull with")
    roles = list(partner.roles.order_by("pk"))
    cpo = next((r for r in roles if r.role == Role.CPO), None)
    ours_keys = {(cc.upper(), pid.upper()) for cc, pid in Party.objects.values_list("country_code", "party_id")}
    allowed = {(r.country_code.upper(), r.party_id.upper()) for r in roles} - ours_keys
    to_party = PartyRef.of(cpo.country_code, cpo.party_id) if cpo else None
    return PartyRef.of(ours.country_code, ours.party_id), to_party, allowed


def pull(
    *,
    partner: Partner,
    module: str,
    full: bool = False,
    progress: Callable[[PullReport], None] | None = None,
    restart: bool = False,
) -> PullReport:
    """Pull one module's Sender list from a partner; returns the report (never raises for a partner error:
    the report says `error` and whether it is `transient`, and the crawl is resumable).

    An unfinished crawl of the same module is continued (a FULL one also serves a DELTA request) unless
    `restart`; `progress` is called after every stored page.
    """
    if module not in MODULES:
        raise PullError(f"Unknown module {module!r}; expected one of {', '.join(MODULES)}")
    try:
        get_pull(module)
    except UnknownPullModule as exc:
        raise PullError(str(exc)) from exc
    base_url = partner_endpoint_url(partner=partner, identifier=module, role=SENDER)
    if not base_url:
        raise PullError(f"Partner {partner} has no {module} SENDER endpoint")
    from_party, to_party, allowed = _parties(partner)
    claimed = _claim(partner=partner, module=module, full=full, restart=restart, base_url=base_url)
    mode = PullMode.FULL if full else PullMode.DELTA
    if claimed is None:
        return PullReport(partner.pk, partner.name, module, mode, busy=True)
    state, resumed = claimed
    report = PullReport(
        partner.pk,
        partner.name,
        module,
        state.mode,
        resumed=resumed,
        pages=state.pages,
        stored=state.objects_stored,
        skipped=state.objects_skipped,
        date_from=state.date_from,
        date_to=state.date_to if state.mode == PullMode.DELTA else None,
    )
    client = partner_client(partner, from_party=from_party, to_party=to_party)
    ctx = PullContext(partner=partner, parties=allowed)
    try:
        _crawl(client, state, ctx, report, progress)
        if state.mode == PullMode.FULL:
            report.removed = _remove_unseen(state, partner, to_party)
    except OcpiClientError as exc:
        _fail(state, exc)
        report.error, report.transient = str(exc), exc.transient
        logger.warning("Pull %s from partner %s failed (resumable): %s", module, partner.pk, exc)
        return report
    except BaseException as exc:
        _fail(state, exc)
        raise
    now = timezone.now()
    state.status = PullStatus.DONE
    state.next_url = ""
    state.objects_removed = report.removed
    state.finished_at = state.last_success_at = now
    state.last_date_to = state.date_to
    state.save()
    state.seen.all().delete()
    report.finished = True
    logger.info("Pull finished: %s", report.summary())
    return report


def _fail(state: PullState, exc: BaseException) -> None:
    PullState.objects.filter(pk=state.pk).update(
        status=PullStatus.FAILED, last_error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
    )


def pull_due(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """(partner id, module) of the periodic DELTA pulls due now: registered partners exposing the module's
    SENDER endpoint whose last pull (started or queued) is older than the state's interval. Marks them queued."""
    now = now or timezone.now()
    due = []
    for module in MODULES:
        for partner in partner_list_with_endpoint(identifier=module, role=SENDER):
            state, _ = PullState.objects.get_or_create(partner=partner, module=module)
            if not state.enabled:
                continue
            if state.status == PullStatus.RUNNING and state.heartbeat_at and state.heartbeat_at > now - RUNNING_LEASE:
                continue
            last = max((t for t in (state.started_at, state.queued_at) if t is not None), default=None)
            if last is not None and last + timedelta(minutes=state.interval_minutes) > now:
                continue
            PullState.objects.filter(pk=state.pk).update(queued_at=now)
            due.append((partner.pk, module))
    return due


def pull_state_list(*, partner: Partner | None = None) -> Any:
    queryset = PullState.objects.select_related("partner").order_by("partner__name", "module", "pk")
    return queryset.filter(partner=partner) if partner is not None else queryset
