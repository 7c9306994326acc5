"""Sender list pagination: offset/limit/date_from/date_to in; Link, X-Total-Count, X-Limit out (transport.md 7).

Two ways to walk a list, both always accepted:

* `offset` (the spec's): a page at `offset` N reads and skips N rows, so a deep page costs more than the first.
* `cursor` (ours, in the `Link` next URL): an opaque, signed token holding the sort key of the last row served
  (e.g. its (last_updated, pk)) and the filter (date_from, date_to). The next page starts right after that key
  with an index range scan: its cost does not grow with depth. The Link URL still repeats date_from, date_to,
  limit and the updated offset as transport.md 7.2 asks, so a partner that builds its own URLs from `offset`
  keeps working; when `cursor` is present it decides the position (the offset next to it is informational).
  A cursor we did not sign (edited, truncated, from another list) is OCPI 2001 naming `cursor`.

Keyset paging needs an order whose last field is the primary key, all in one direction (every Sender list:
(last_updated, pk) or pk); any other order is paged by offset only (no cursor in the Link).

Walk semantics with the cursor: no row is skipped or repeated because another row was added, removed or updated
elsewhere in the list. A row ordered by last_updated that is updated during the walk moves to the end: if it
was already served it is served again, in its newer version, at the end (the receiver keeps the newer copy);
if it was not served yet it is served once, at the end. Lists in creation (pk) order serve every row exactly once.

X-Total-Count: exact (one COUNT) on a first page (no cursor, offset 0); on later pages it comes from the Django
cache, keyed by the SQL of the filtered query (so per list, partner, party and date window), for
OCPI_TOTAL_COUNT_TTL seconds; on a miss it is counted again and cached. It may therefore lag the truth by
that many seconds on later pages, which the spec allows (it only ever advises on a changed total).
Whether there is a next page is decided by reading limit + 1 rows, never from the (cached) total.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet, FieldDoesNotExist, ImproperlyConfigured, ValidationError
from django.db.models import F, Field, Model, QuerySet
from django.db.models.fields.tuple_lookups import (  # type: ignore[import-untyped]  # Django 5.2: no stubs yet
    Tuple,
    TupleGreaterThan,
    TupleLessThan,
)
from rest_framework.request import Request
from rest_framework.response import Response

from .envelope import envelope, format_datetime
from .exceptions import InvalidParameters
from .fields import parse_datetime

MAX_INTEGER = 2**63 - 1
CURSOR_PARAM = "cursor"
_CURSOR_SALT = "ocpi.pagination.cursor.v1"
_CURSOR_MAX_LENGTH = 1000  # ours are about 150 characters; a URL is at most 2048 (middleware)


@dataclass(frozen=True)
class Cursor:
    """A decoded cursor: where the next page starts. `after` holds the raw (JSON) sort key values."""

    list_key: str  # model label and order, e.g. "locations.Location:last_updated,pk"
    after: tuple[Any, ...]
    offset: int  # the offset of the page it points to (for the next Link's offset)


@dataclass(frozen=True)
class PageParams:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None
    cursor: Cursor | None = None


def _bad(name: str, why: str) -> InvalidParameters:
    return InvalidParameters(f"Invalid or missing parameters: {name}: {why}")


def _cursor_decode(raw: str) -> tuple[Cursor, datetime | None, datetime | None]:
    if len(raw) > _CURSOR_MAX_LENGTH:
        raise _bad(CURSOR_PARAM, "not a cursor issued by this server (too long)")
    try:
        payload = signing.loads(raw, salt=_CURSOR_SALT)
        list_key, after, offset, date_from, date_to = payload
        if not (isinstance(list_key, str) and isinstance(after, list) and isinstance(offset, int)):
            raise ValueError(payload)
        window = tuple(parse_datetime(v) if v is not None else None for v in (date_from, date_to))
    except (signing.BadSignature, ValueError, TypeError):
        raise _bad(CURSOR_PARAM, "not a cursor issued by this server (altered or truncated)") from None
    return Cursor(list_key=list_key, after=tuple(after), offset=offset), window[0], window[1]


def _iso(value: datetime | None) -> str | None:
    """Full precision (microseconds): a cursor must restore the exact filter and key."""
    return value.isoformat() if value is not None else None


def page_params(request: Request) -> PageParams:
    """Parse and clamp the query parameters; bad values are OCPI 2001 naming the parameter.

    With a `cursor` the date window is the one it carries (the Link repeats it; a different one is 2001)."""
    query = request.query_params
    cap = settings.OCPI_PAGE_LIMIT_MAX

    def integer(name: str, default: int) -> int:
        raw = query.get(name)
        if not raw:  # absent or empty
            return default
        try:
            value = int(raw)
        except ValueError:
            raise _bad(name, "must be an integer") from None
        if value < 0:
            raise _bad(name, "must not be negative")
        if value > MAX_INTEGER:  # beyond what a database column can hold (found by fuzzing)
            raise _bad(name, f"must be at most {MAX_INTEGER}")
        return value

    def moment(name: str) -> datetime | None:
        raw = query.get(name)
        if not raw:  # absent or empty
            return None
        try:
            return parse_datetime(raw.replace(" ", "+"))
        except ValueError:
            raise _bad(name, "must be an RFC 3339 UTC date-time") from None

    offset = integer("offset", 0)
    limit = min(integer("limit", settings.OCPI_PAGE_LIMIT_DEFAULT), cap)
    date_from, date_to = moment("date_from"), moment("date_to")
    raw_cursor = query.get(CURSOR_PARAM)
    if not raw_cursor:
        return PageParams(offset=offset, limit=limit, date_from=date_from, date_to=date_to)
    cursor, cursor_from, cursor_to = _cursor_decode(raw_cursor)
    for name, given, carried in (("date_from", date_from, cursor_from), ("date_to", date_to, cursor_to)):
        # The Link prints the window at millisecond precision; the cursor holds it exactly.
        if given is not None and (carried is None or format_datetime(given) != format_datetime(carried)):
            raise _bad(CURSOR_PARAM, f"was issued for another {name}: follow the Link or start again without it")
    return PageParams(offset=cursor.offset, limit=limit, date_from=cursor_from, date_to=cursor_to, cursor=cursor)


def filter_last_updated(queryset: QuerySet, params: PageParams, field: str = "last_updated") -> QuerySet:
    """date_from inclusive, date_to exclusive."""
    if params.date_from is not None:
        queryset = queryset.filter(**{f"{field}__gte": params.date_from})
    if params.date_to is not None:
        queryset = queryset.filter(**{f"{field}__lt": params.date_to})
    return queryset


# --- Keyset ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Keyset:
    """The sort key of an ordered queryset, when it can be paged by key: plain local fields ending with the
    primary key, all ascending or all descending."""

    model: type[Model]
    fields: tuple[str, ...]  # attribute names, "pk" resolved (e.g. ("last_updated", "id"))
    descending: bool

    @property
    def list_key(self) -> str:
        return f"{self.model._meta.label}:{','.join(self.fields)}{':desc' if self.descending else ''}"

    def key_of(self, row: Any) -> list[Any]:
        values = []
        for name in self.fields:
            value = getattr(row, name)
            values.append(value.isoformat() if isinstance(value, datetime) else value)
        return values

    def condition(self, after: Sequence[Any]) -> Any:
        """Rows strictly after `after` in page order: a row comparison, an index range condition."""
        if len(after) != len(self.fields):
            raise _bad(CURSOR_PARAM, "does not belong to this list")
        try:
            fields = [cast(Field, self.model._meta.get_field(name)) for name in self.fields]
            values = [field.to_python(v) for field, v in zip(fields, after, strict=True)]
        except (ValidationError, ValueError, TypeError):  # a signed cursor holds what we wrote: a changed schema
            raise _bad(CURSOR_PARAM, "does not belong to this list") from None
        if any(v is None for v in values):
            raise _bad(CURSOR_PARAM, "does not belong to this list")
        lookup = TupleLessThan if self.descending else TupleGreaterThan
        return lookup(Tuple(*(F(name) for name in self.fields)), tuple(values))


def _keyset_of(queryset: QuerySet) -> _Keyset | None:
    query = queryset.query
    raw = list(query.order_by) or (list(queryset.model._meta.ordering) if query.default_ordering else [])
    if not raw or query.extra_order_by or not all(isinstance(o, str) for o in raw):
        return None
    order = [str(o) for o in raw]
    meta = queryset.model._meta
    fields: list[str] = []
    directions = set()
    for item in order:
        name = item.lstrip("-")
        directions.add(item.startswith("-"))
        if name == "pk":
            name = meta.pk.attname
        if "__" in name or name.startswith("?"):
            return None
        try:
            field = meta.get_field(name)
        except FieldDoesNotExist:  # an annotation
            return None
        if getattr(field, "is_relation", False) or not getattr(field, "concrete", False):
            return None
        fields.append(field.attname)
    if len(directions) != 1 or fields[-1] != meta.pk.attname:
        return None  # mixed directions, or an order not made unique by the primary key: offset paging only
    return _Keyset(model=queryset.model, fields=tuple(fields), descending=directions.pop())


def _cursor_encode(keyset: _Keyset, row: Any, offset: int, params: PageParams) -> str:
    payload = [keyset.list_key, keyset.key_of(row), offset, _iso(params.date_from), _iso(params.date_to)]
    return signing.dumps(payload, salt=_CURSOR_SALT, compress=True)


# --- Total count ----------------------------------------------------------------------------------------------


def _total_cache_key(queryset: QuerySet) -> str:
    sql, sql_params = queryset.order_by().query.sql_with_params()
    digest = hashlib.sha256(repr((queryset.db, sql, sql_params)).encode()).hexdigest()
    return f"ocpi:total:{digest}"


def _total(queryset: QuerySet, *, first_page: bool) -> int:
    """Exact on a first page (and cached); from the cache on later pages while it holds."""
    ttl = settings.OCPI_TOTAL_COUNT_TTL
    if ttl <= 0:
        return queryset.count()
    try:
        key = _total_cache_key(queryset)
    except EmptyResultSet:  # e.g. .none(): counting costs no query
        return queryset.count()
    if not first_page:
        cached = cache.get(key)
        if cached is not None:
            return int(cached)
    total = queryset.count()
    cache.set(key, total, ttl)
    return total


# --- The response ---------------------------------------------------------------------------------------------


def _source_queryset(source: Any) -> QuerySet | None:
    """The ordered queryset behind a list: the queryset itself, or a row source's (see PagedRows)."""
    if isinstance(source, QuerySet):
        return source
    return getattr(source, "ordered_queryset", None)


def paginated_response(
    request: Request,
    queryset: QuerySet | Sequence[Any],
    serialize: Callable[[Sequence[Any]], list[Any]],
    params: PageParams | None = None,
) -> Response:
    """One page of an ordered, already filtered queryset in the envelope with the pagination headers.

    `queryset` is a QuerySet, a plain sequence (paged by offset), or a row source with `ordered_queryset` (the
    QuerySet whose order and filter it pages), `filter(condition)` (the same source narrowed) and slicing
    (e.g. locations.selectors.PublishedRows). `serialize` gets the page's rows and returns their OCPI
    representations; it should do a constant number of queries whatever the page size. An unordered queryset
    is a programming error (ImproperlyConfigured): paging over an undefined order can skip or repeat rows.
    """
    ordered = _source_queryset(queryset)
    if ordered is not None and not ordered.ordered:
        raise ImproperlyConfigured(
            "paginated_response needs an ordered queryset (order_by(..., 'pk')); "
            f"got an unordered {ordered.model.__name__} queryset"
        )
    params = params or page_params(request)
    keyset = _keyset_of(ordered) if ordered is not None else None
    cursor = params.cursor
    if cursor is not None and (keyset is None or cursor.list_key != keyset.list_key):
        raise _bad(CURSOR_PARAM, "does not belong to this list")

    first_page = cursor is None and params.offset == 0
    total = len(queryset) if ordered is None else _total(ordered, first_page=first_page)

    rows: list[Any] = []
    if params.limit:
        if cursor is not None:
            assert keyset is not None
            window = queryset.filter(keyset.condition(cursor.after))  # type: ignore[union-attr]
            rows = list(window[: params.limit + 1])
        else:
            rows = list(queryset[params.offset : params.offset + params.limit + 1])
    more = len(rows) > params.limit
    rows = rows[: params.limit]

    response = Response(envelope(serialize(rows)))
    response["X-Total-Count"] = str(total)
    response["X-Limit"] = str(settings.OCPI_PAGE_LIMIT_MAX)
    if rows and more:
        next_offset = params.offset + len(rows)
        query: dict[str, str] = {"offset": str(next_offset), "limit": str(params.limit)}
        if params.date_from is not None:
            query["date_from"] = format_datetime(params.date_from)
        if params.date_to is not None:
            query["date_to"] = format_datetime(params.date_to)
        if keyset is not None:
            query[CURSOR_PARAM] = _cursor_encode(keyset, rows[-1], next_offset, params)
        url = f"{settings.OCPI_BASE_URL}{request.path}?{urlencode(query)}"
        response["Link"] = f'<{url}>; rel="next"'
    return response
