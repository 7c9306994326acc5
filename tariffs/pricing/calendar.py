"""Instants at which a local-time restriction (start/end_time, dates, day_of_week) can change its
answer, in the Location's IANA zone, DST included.

A wall-clock boundary HH:MM on local day D is crossed at the UTC instant(s) that map to it: one
normally, two when the clock falls back over it (fold 0 and 1), none when it falls in a
spring-forward gap, where the wall time jumps over it at the DST transition itself. So the
candidate cut points of a day are: both fold interpretations of every boundary, plus the day's
offset transitions. Extra cut points are harmless (the engine evaluates restrictions inside each
piece), missing ones are not.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tariffs.pricing.types import ChargingDataError

_DAY = timedelta(days=1)
_CACHE_LIMIT = 20_000
_day_cache: dict[tuple[str, date, tuple[int, ...]], tuple[datetime, ...]] = {}


@lru_cache(maxsize=256)
def get_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ChargingDataError(f"unknown time zone {name!r}") from None


def _utc(day: date, minute: int, zone: ZoneInfo, fold: int) -> datetime:
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=zone, fold=fold)
    return local.astimezone(UTC)


def _offset(moment: datetime, zone: ZoneInfo) -> timedelta | None:
    return moment.astimezone(zone).utcoffset()


def _transition(lo: datetime, hi: datetime, zone: ZoneInfo) -> datetime:
    """First whole second in (lo, hi] whose UTC offset differs from lo's (binary search)."""
    before = _offset(lo, zone)
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _offset(datetime.fromtimestamp(mid, UTC), zone) == before:
            lo_s = mid
        else:
            hi_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def day_cut_points(zone: ZoneInfo, day: date, minutes: tuple[int, ...]) -> tuple[datetime, ...]:
    """All candidate cut instants (UTC) belonging to local day `day`, sorted."""
    key = (zone.key, day, minutes)
    cached = _day_cache.get(key)
    if cached is not None:
        return cached
    points = {_utc(day, minute, zone, fold) for minute in minutes for fold in (0, 1)}
    start, end = _utc(day, 0, zone, 0), _utc(day + _DAY, 0, zone, 0)
    if _offset(start, zone) != _offset(end, zone):
        points.add(_transition(start, end, zone))
    result = tuple(sorted(points))
    if len(_day_cache) >= _CACHE_LIMIT:
        _day_cache.clear()
    _day_cache[key] = result
    return result


def local_cut_points(zone: ZoneInfo, minutes: tuple[int, ...], start: datetime, end: datetime) -> list[datetime]:
    """Candidate cut instants strictly inside (start, end)."""
    day = start.astimezone(zone).date() - _DAY
    last = end.astimezone(zone).date() + _DAY
    result: list[datetime] = []
    while day <= last:
        result.extend(p for p in day_cut_points(zone, day, minutes) if start < p < end)
        day += _DAY
    return result
