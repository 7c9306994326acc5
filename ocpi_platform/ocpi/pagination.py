"""Sender list pagination: offset/limit/date_from/date_to in; Link, X-Total-Count, X-Limit out (transport.md 7)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.response import Response

from .envelope import envelope, format_datetime
from .exceptions import InvalidParameters
from .fields import parse_datetime

MAX_INTEGER = 2**63 - 1


@dataclass(frozen=True)
class PageParams:
    offset: int
    limit: int
    date_from: datetime | None
    date_to: datetime | None


def page_params(request: Request) -> PageParams:
    """Parse and clamp the query parameters; bad values are OCPI 2001 naming the parameter."""
    query = request.query_params
    cap = settings.OCPI_PAGE_LIMIT_MAX

    def integer(name: str, default: int) -> int:
        raw = query.get(name)
        if not raw:  # absent or empty
            return default
        try:
            value = int(raw)
        except ValueError:
            raise InvalidParameters(f"Invalid or missing parameters: {name}: must be an integer") from None
        if value < 0:
            raise InvalidParameters(f"Invalid or missing parameters: {name}: must not be negative")
        if value > MAX_INTEGER:  # beyond what a database column can hold (found by fuzzing)
            raise InvalidParameters(f"Invalid or missing parameters: {name}: must be at most {MAX_INTEGER}")
        return value

    def moment(name: str) -> datetime | None:
        raw = query.get(name)
        if not raw:  # absent or empty
            return None
        try:
            return parse_datetime(raw.replace(" ", "+"))
        except ValueError:
            raise InvalidParameters(
                f"Invalid or missing parameters: {name}: must be an RFC 3339 UTC date-time"
            ) from None

    offset = integer("offset", 0)
    limit = min(integer("limit", settings.OCPI_PAGE_LIMIT_DEFAULT), cap)
    return PageParams(offset=offset, limit=limit, date_from=moment("date_from"), date_to=moment("date_to"))


def filter_last_updated(queryset: QuerySet, params: PageParams, field: str = "last_updated") -> QuerySet:
    """date_from inclusive, date_to exclusive."""
    if params.date_from is not None:
        queryset = queryset.filter(**{f"{field}__gte": params.date_from})
    if params.date_to is not None:
        queryset = queryset.filter(**{f"{field}__lt": params.date_to})
    return queryset


def paginated_response(
    request: Request,
    queryset: QuerySet | Sequence[Any],
    serialize: Callable[[Sequence[Any]], list[Any]],
    params: PageParams | None = None,
) -> Response:
    """One page of an ordered, already filtered queryset in the envelope with the pagination headers.

    `serialize` gets the page's rows and returns their OCPI representations; it should do a constant
    number of queries (prefetching) whatever the page size. An unordered queryset is a programming error
    (ImproperlyConfigured): offset paging over an undefined order can skip or repeat rows between pages.
    """
    if isinstance(queryset, QuerySet) and not queryset.ordered:
        raise ImproperlyConfigured(
            "paginated_response needs an ordered queryset (order_by(..., 'pk')); "
            f"got an unordered {queryset.model.__name__} queryset"
        )
    params = params or page_params(request)
    total = queryset.count() if isinstance(queryset, QuerySet) else len(queryset)
    rows = list(queryset[params.offset : params.offset + params.limit]) if params.limit else []
    response = Response(envelope(serialize(rows)))
    response["X-Total-Count"] = str(total)
    response["X-Limit"] = str(settings.OCPI_PAGE_LIMIT_MAX)
    next_offset = params.offset + len(rows)
    if rows and next_offset < total:
        query: dict[str, str] = {"offset": str(next_offset), "limit": str(params.limit)}
        if params.date_from is not None:
            query["date_from"] = format_datetime(params.date_from)
        if params.date_to is not None:
            query["date_to"] = format_datetime(params.date_to)
        url = f"{settings.OCPI_BASE_URL}{request.path}?{urlencode(query)}"
        response["Link"] = f'<{url}>; rel="next"'
    return response
