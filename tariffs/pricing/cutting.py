"""Steps 1 and 2 of the pricing algorithm (see `tariffs.pricing.core`): cut the input periods
where a restriction can change its answer and pick the active component per dimension."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from itertools import pairwise
from typing import Any

from tariffs.pricing.calendar import local_cut_points
from tariffs.pricing.compile import RESERVATION, CompiledElement, CompiledTariff, Restrictions
from tariffs.pricing.types import SECONDS_PER_HOUR, ZERO, ChargingDataError, ChargingPeriodIn, ComponentRef

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000
D_US = Decimal(US)
_TWO = Decimal(2)
_MS = Decimal("0.001")


def to_us(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def at_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


class Ctx:
    """Where a piece stands when its restrictions are evaluated."""

    __slots__ = ("current", "day", "duration", "kwh", "power", "tod", "weekday")

    def __init__(self) -> None:
        self.day: date | None = None
        self.weekday = -1
        self.tod = 0
        self.kwh = ZERO
        self.duration = ZERO
        self.current: Decimal | None = None
        self.power: Decimal | None = None


def matches(r: Restrictions | None, ctx: Ctx) -> bool:
    """All present restrictions hold (AND); tariffs.md §4.4 bounds: min inclusive, max exclusive."""
    if r is None:
        return True
    if r.days is not None and ctx.weekday not in r.days:
        return False
    start, end, tod = r.start_us, r.end_us, ctx.tod
    if start is not None and end is not None:
        # start >= end wraps past midnight (22:00-06:00); equal bounds = the whole day
        inside = start <= tod < end if start < end else tod >= start or tod < end
        if not inside:
            return False
    elif (start is not None and tod < start) or (end is not None and tod >= end):
        return False
    if r.start_date is not None or r.end_date is not None:
        day = ctx.day
        assert day is not None  # a date restriction makes the tariff use local time: cut_pieces sets the day
        if r.start_date is not None and day < r.start_date:
            return False
        if r.end_date is not None and day >= r.end_date:
            return False
    if r.min_kwh is not None and ctx.kwh < r.min_kwh:
        return False
    if r.max_kwh is not None and ctx.kwh >= r.max_kwh:
        return False
    if r.min_duration is not None and ctx.duration < r.min_duration:
        return False
    if r.max_duration is not None and ctx.duration >= r.max_duration:
        return False
    # An unknown current/power level fails the restriction (falls through to the next element).
    if r.min_current is not None and (ctx.current is None or ctx.current < r.min_current):
        return False
    if r.max_current is not None and (ctx.current is None or ctx.current >= r.max_current):
        return False
    if r.min_power is not None and (ctx.power is None or ctx.power < r.min_power):
        return False
    return not (r.max_power is not None and (ctx.power is None or ctx.power >= r.max_power))


def pick(candidates: tuple[CompiledElement, ...], key: str, ctx: Ctx, memo: dict[int, bool]) -> ComponentRef | None:
    for element in candidates:
        ok = memo.get(element.index)
        if ok is None:
            ok = memo[element.index] = matches(element.restrictions, ctx)
        if ok:
            return element.components[key]
    return None


class Period:
    """Input period with its derived quantities (seconds for time, kWh for energy); set by prepare_periods."""

    index: int
    source: ChargingPeriodIn
    start_us: int
    end_us: int
    dur_us: int
    energy: Decimal
    time_s: Decimal
    parking_s: Decimal
    reservation_s: Decimal
    reservation_only: bool
    current: Decimal | None
    power: Decimal | None
    keys: tuple[str, ...]

    __slots__ = (
        "current",
        "dur_us",
        "end_us",
        "energy",
        "index",
        "keys",
        "parking_s",
        "power",
        "reservation_only",
        "reservation_s",
        "source",
        "start_us",
        "time_s",
    )


class Piece:
    __slots__ = (
        "billed",
        "dur_us",
        "end_us",
        "energy",
        "flats",
        "parking_s",
        "period",
        "reservation_s",
        "sel",
        "start_us",
        "time_s",
    )

    def __init__(self, period: Period, start_us: int, end_us: int, energy: Decimal, sel: dict) -> None:
        self.period = period
        self.start_us = start_us
        self.end_us = end_us
        self.dur_us = end_us - start_us
        self.energy = energy
        self.sel = sel
        self.time_s = self.parking_s = self.reservation_s = ZERO
        self.billed: dict[str, Decimal] = {}
        self.flats: list[ComponentRef] = []


def _level(period: ChargingPeriodIn, types: tuple[str, ...]) -> Decimal | None:
    for kind in types:
        value = period.volume(kind)
        if value is not None:
            return value
    return None


def _hours_to_seconds(period: ChargingPeriodIn, kind: str) -> Decimal:
    hours = period.volume(kind)
    if hours is None:
        return ZERO
    if hours < 0:
        raise ChargingDataError(f"{kind} volume must not be negative")
    # Hours of whole minutes are rarely finite decimals (10 min = 0.1666.. h): work in seconds at
    # millisecond resolution (step_size units are seconds).
    return (hours * SECONDS_PER_HOUR).quantize(_MS, rounding=ROUND_HALF_EVEN)


def prepare_periods(raw_periods: list[ChargingPeriodIn], end: datetime) -> list[Period]:
    if not raw_periods:
        raise ChargingDataError("at least one charging period is required")
    if end.tzinfo is None or end.utcoffset() is None:
        raise ChargingDataError("end_date_time must be timezone-aware")
    starts = [to_us(p.start_date_time - EPOCH) for p in raw_periods]
    ends = [*starts[1:], to_us(end - EPOCH)]
    periods = []
    for index, source in enumerate(raw_periods):
        if ends[index] < starts[index]:
            raise ChargingDataError(
                "charging periods must be in time order and end_date_time must not precede the last period"
            )
        p = Period()
        p.index, p.source = index, source
        p.start_us, p.end_us, p.dur_us = starts[index], ends[index], ends[index] - starts[index]
        energy = source.volume("ENERGY")
        if energy is None:  # Session periods may only carry import/export (ENERGY = net import)
            imported, exported = source.volume("ENERGY_IMPORT"), source.volume("ENERGY_EXPORT")
            energy = (imported or ZERO) - (exported or ZERO)
        p.energy = energy
        p.time_s = _hours_to_seconds(source, "TIME")
        p.parking_s = _hours_to_seconds(source, "PARKING_TIME")
        p.reservation_s = _hours_to_seconds(source, "RESERVATION_TIME")
        charging = bool(p.energy or p.time_s)
        p.reservation_only = bool(p.reservation_s) and not charging and not p.parking_s
        p.current = _level(source, ("CURRENT", "MAX_CURRENT", "MIN_CURRENT"))
        if p.current is None and not charging:
            p.current = ZERO
        p.power = _level(source, ("POWER", "MAX_POWER", "MIN_POWER"))
        if p.power is None:
            if p.time_s:
                p.power = p.energy * SECONDS_PER_HOUR / p.time_s
            elif p.energy and p.dur_us:  # energy without TIME: charged over the whole period
                p.power = p.energy * SECONDS_PER_HOUR * D_US / p.dur_us
            elif not charging:
                p.power = ZERO
        keys = []
        if not p.reservation_only:
            if p.energy:
                keys.append("ENERGY")
            if p.time_s:
                keys.append("TIME")
            if p.parking_s:
                keys.append("PARKING_TIME")
            keys.append("FLAT")
        p.keys = tuple(keys)
        periods.append(p)
    return periods


def cut_pieces(
    ct: CompiledTariff,
    zone: Any,
    periods: list[Period],
    session_start_us: int,
    res_kind: str | None,
) -> tuple[list[Piece], Ctx | None]:
    """Step 1 and 2: pieces with constant active components, merged within an input period."""
    pieces: list[Piece] = []
    first_ctx: Ctx | None = None
    energy_so_far = ZERO
    duration_cuts = [session_start_us + int(d * D_US) for d in ct.duration_thresholds]
    res_pools = None
    if res_kind is not None:
        res_pools = ct.reservation if res_kind == RESERVATION else ct.reservation_expired
    for period in periods:
        a, b, dur = period.start_us, period.end_us, period.dur_us
        e0 = energy_so_far
        e1 = e0 + period.energy
        if dur > 0:
            cuts: set[int] = set()
            if ct.uses_local_time:
                cuts.update(to_us(x - EPOCH) for x in local_cut_points(zone, ct.local_minutes, at_us(a), at_us(b)))
            cuts.update(x for x in duration_cuts if a < x < b)
            times = [a, *sorted(cuts), b]
        else:
            times = [a, a]
        marks = [(t, e0 if t == a else e1 if t == b else e0 + period.energy * (t - a) / dur) for t in times]
        own: list[Piece] = []
        for (x, ex), (y, ey) in pairwise(marks):
            ctx = Ctx()
            mid = x + (y - x) // 2
            if ct.uses_local_time:
                local = at_us(mid).astimezone(zone)
                ctx.day = local.date()
                ctx.weekday = ctx.day.weekday()
                ctx.tod = ((local.hour * 60 + local.minute) * 60 + local.second) * US + local.microsecond
            if ct.uses_duration:
                ctx.duration = Decimal(mid - session_start_us) / D_US
            ctx.current, ctx.power = period.current, period.power
            subs = [(x, ex)]
            if ct.kwh_thresholds and ex != ey:
                low, high = (ex, ey) if ex < ey else (ey, ex)
                crossing = [k for k in ct.kwh_thresholds if low < k < high]
                if ey < ex:
                    crossing.reverse()
                floor_us = x
                for k in crossing:
                    exact = Decimal(x) + (k - ex) * (y - x) / (ey - ex)
                    at = int((exact / D_US).to_integral_value(ROUND_HALF_EVEN)) * US
                    at = min(max(at, floor_us), y)
                    floor_us = at
                    subs.append((at, k))
            subs.append((y, ey))
            for (u, eu), (v, ev) in pairwise(subs):
                ctx.kwh = (eu + ev) / _TWO
                memo: dict[int, bool] = {}
                sel: dict[str, ComponentRef] = {}
                for key in period.keys:
                    ref = pick(ct.normal[key], key, ctx, memo)
                    if ref is not None:
                        sel[key] = ref
                if res_pools is not None and period.reservation_s:
                    for key, out in (("TIME", "RESERVATION_TIME"), ("FLAT", "RESERVATION_FLAT")):
                        ref = pick(res_pools[key], key, ctx, memo)
                        if ref is not None:
                            sel[out] = ref
                if first_ctx is None:
                    first_ctx = Ctx()
                    for slot in Ctx.__slots__:
                        setattr(first_ctx, slot, getattr(ctx, slot))
                if own and own[-1].sel == sel:
                    last = own[-1]
                    last.end_us = v
                    last.dur_us = v - last.start_us
                    last.energy += ev - eu
                else:
                    own.append(Piece(period, u, v, ev - eu, sel))
        # time volumes spread in proportion to wall time; the last piece takes the remainder
        for attr in ("time_s", "parking_s", "reservation_s"):
            total = getattr(period, attr)
            if not total:
                continue
            left = total
            for piece in own[:-1]:
                share = total * piece.dur_us / dur if dur else ZERO
                setattr(piece, attr, share)
                left -= share
            setattr(own[-1], attr, left)
        pieces.extend(own)
        energy_so_far = e1
    return pieces, first_ctx
