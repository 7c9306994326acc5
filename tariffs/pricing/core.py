"""The pricing algorithm of tariffs.md §5 as one pure function, `price()`.

1. Cut every input period wherever a restriction can change its answer: local time-of-day and
   midnight boundaries incl. DST transitions, session-duration thresholds, and kWh thresholds,
   energy assumed linear in time inside a period (cdrs.md §4.4 allows interpolating boundaries).
   kWh crossing instants are rounded to whole seconds; the energy split stays exact.
2. Per piece, per dimension, the first element in list order that has a component of that type
   and whose restrictions all hold supplies the component (§5.3). Restrictions are evaluated
   inside the piece (time at its middle, energy-so-far at its middle), so a piece starting exactly
   on a boundary gets the element starting there (start inclusive, end exclusive).
3. step_size once per session (§5.4): ENERGY total with the last ENERGY component's step; TIME +
   PARKING_TIME together: only the total of the kind of the last paid time period is rounded, with
   that component's step; reservation time separately with the last reservation TIME step. The
   excess is billed in the last paid period of that kind.
4. FLAT: each distinct FLAT component that is active at some moment is charged once (spec-issues F3).
5. Cost and VAT per component on the aggregated billed quantity; min/max_price on the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

from tariffs.pricing.billing import QUANTITY_KEYS, TIME_KEYS, amount_of, apply_limits, apply_steps, piece_dimensions
from tariffs.pricing.calendar import get_zone
from tariffs.pricing.compile import RESERVATION, RESERVATION_TYPES, CompiledTariff, compile_tariff
from tariffs.pricing.cutting import D_US, EPOCH, Period, at_us, cut_pieces, pick, prepare_periods, to_us
from tariffs.pricing.inputs import coerce_periods
from tariffs.pricing.types import (
    CATEGORY_ENERGY,
    CATEGORY_FIXED,
    CATEGORY_PARKING,
    CATEGORY_RESERVATION,
    CATEGORY_TIME,
    SECONDS_PER_HOUR,
    ZERO,
    ChargingDataError,
    ChargingPeriodIn,
    ComponentRef,
    CostLine,
    Price,
    PricedPeriod,
    PricedResult,
)

_PRECISION = 50


def _reservation_kind(reservation: Any, periods: list[Period]) -> tuple[str | None, bool]:
    """-> (kind, explicit). True = RESERVATION; None/False = RESERVATION if any reservation time."""
    if reservation is True:
        return RESERVATION, True
    if reservation is None or reservation is False:
        return (RESERVATION if any(p.reservation_s for p in periods) else None), False
    if reservation in RESERVATION_TYPES:
        return reservation, True
    raise ChargingDataError(f"reservation: {reservation!r} is not RESERVATION or RESERVATION_EXPIRES")


def price(
    tariff: Mapping[str, Any] | CompiledTariff,
    periods: Iterable[ChargingPeriodIn | Mapping[str, Any]],
    *,
    end_date_time: datetime | None = None,
    time_zone: str | None = None,
    reservation: bool | str | None = None,
    session_start: datetime | None = None,
) -> PricedResult:
    """Price one session under one tariff (the CDR totals and its charging periods).

    periods: ChargingPeriodIn objects or OCPI ChargingPeriod dicts, in time order; each lasts
    until the next starts, the last until `end_date_time`. `time_zone`: the Location's IANA zone.
    `reservation`: RESERVATION (a reservation preceded the session; True means the same),
    RESERVATION_EXPIRES (it expired), None: RESERVATION if a period has RESERVATION_TIME.
    `session_start`: origin of min/max_duration; default the first period that is not
    reservation-only. `end_date_time`/`time_zone` may be omitted for `simple_session()` output.
    """
    end = end_date_time if end_date_time is not None else getattr(periods, "end_date_time", None)
    zone_name = time_zone if time_zone is not None else getattr(periods, "time_zone", None)
    if end is None or zone_name is None:
        raise ChargingDataError("end_date_time and time_zone are required")
    zone = get_zone(zone_name)
    ct = compile_tariff(tariff)
    raw = coerce_periods(periods)
    with localcontext() as context:
        context.prec = _PRECISION
        context.rounding = ROUND_HALF_EVEN
        return _price(ct, zone, raw, end, reservation, session_start)


def _price(
    ct: CompiledTariff,
    zone: Any,
    raw: list[ChargingPeriodIn],
    end: datetime,
    reservation: Any,
    session_start: datetime | None,
) -> PricedResult:
    periods = prepare_periods(raw, end)
    res_kind, explicit = _reservation_kind(reservation, periods)
    if session_start is not None:
        start_us = to_us(session_start - EPOCH)
    else:
        start_us = next((p.start_us for p in periods if not p.reservation_only), periods[0].start_us)
    pieces, first_ctx = cut_pieces(ct, zone, periods, start_us, res_kind)

    # A reservation made but not timed in any period still costs its fee (once, at session start).
    if explicit and res_kind is not None and not any(p.reservation_s for p in periods) and first_ctx is not None:
        pools = ct.reservation if res_kind == RESERVATION else ct.reservation_expired
        ref = pick(pools["FLAT"], "FLAT", first_ctx, {})
        if ref is not None:
            pieces[0].sel = {**pieces[0].sel, "RESERVATION_FLAT": ref}

    apply_steps(pieces)

    # Aggregate per component -> cost lines (step 5), FLAT once per distinct component (step 4).
    metered: dict[ComponentRef, list] = {}
    flats: dict[ComponentRef, str] = {}
    for piece in pieces:
        for key, quantity in piece.billed.items():
            ref = piece.sel[key]
            entry = metered.get(ref)
            if entry is None:
                entry = metered[ref] = [key, ZERO, ZERO]
            entry[2] += quantity
        for key, quantity in (
            ("ENERGY", piece.energy),
            ("TIME", piece.time_s),
            ("PARKING_TIME", piece.parking_s),
            ("RESERVATION_TIME", piece.reservation_s),
        ):
            if key in piece.billed:
                metered[piece.sel[key]][1] += quantity
        for key in ("FLAT", "RESERVATION_FLAT"):
            ref = piece.sel.get(key)
            if ref is not None and ref not in flats:
                flats[ref] = ct.elements[ref.element_index].flat_category
                piece.flats.append(ref)

    lines: list[CostLine] = []
    for ref, category in flats.items():
        lines.append(CostLine(ref, category, Decimal(1), Decimal(1), None, Price(ref.price, ref.with_vat(ref.price))))
    for ref, (key, quantity, billed) in metered.items():
        excl = amount_of(ref, key, billed)
        is_time = key in TIME_KEYS
        lines.append(
            CostLine(
                component=ref,
                category=QUANTITY_KEYS[key],
                metered_volume=quantity / SECONDS_PER_HOUR if is_time else quantity,
                billed_volume=billed / SECONDS_PER_HOUR if is_time else billed,
                billed_seconds=billed if is_time else None,
                cost=Price(excl, ref.with_vat(excl)),
            )
        )
    lines.sort(key=lambda line: (line.component.element_index, line.component.component_index))

    by_category: dict[str, Price] = {}
    total = Price(ZERO, ZERO)
    for line in lines:
        by_category[line.category] = by_category.get(line.category, Price(ZERO, ZERO)) + line.cost
        total = total + line.cost
    limited, min_applied, max_applied = apply_limits(total, ct)

    out_periods = []
    for piece in pieces:
        excl = incl = ZERO
        for key, quantity in piece.billed.items():
            ref = piece.sel[key]
            amount = amount_of(ref, key, quantity)
            excl += amount
            incl += ref.with_vat(amount)
        for ref in piece.flats:
            excl += ref.price
            incl += ref.with_vat(ref.price)
        whole = piece.start_us == piece.period.start_us and piece.end_us == piece.period.end_us
        out_periods.append(
            PricedPeriod(
                start_date_time=at_us(piece.start_us),
                end_date_time=at_us(piece.end_us),
                dimensions=piece_dimensions(piece, whole),
                tariff_id=ct.id,
                components=piece.sel,
                cost=Price(excl, incl),
                source_index=piece.period.index,
            )
        )

    charging = [p for p in periods if not p.reservation_only] or periods
    zero = Price(ZERO, ZERO)
    return PricedResult(
        currency=ct.currency,
        tariff_id=ct.id,
        start_date_time=at_us(periods[0].start_us),
        end_date_time=end.astimezone(UTC),
        total_cost=limited,
        total_fixed_cost=by_category.get(CATEGORY_FIXED, zero),
        total_energy_cost=by_category.get(CATEGORY_ENERGY, zero),
        total_time_cost=by_category.get(CATEGORY_TIME, zero),
        total_parking_cost=by_category.get(CATEGORY_PARKING, zero),
        total_reservation_cost=by_category.get(CATEGORY_RESERVATION, zero),
        total_energy=sum((p.energy for p in periods), ZERO),
        total_time=Decimal(sum(p.dur_us for p in charging)) / D_US / SECONDS_PER_HOUR,
        total_parking_time=sum((p.parking_s for p in periods), ZERO) / SECONDS_PER_HOUR,
        total_reservation_time=sum((p.reservation_s for p in periods), ZERO) / SECONDS_PER_HOUR,
        periods=tuple(out_periods),
        lines=tuple(lines),
        cost_before_limits=total,
        min_price_applied=min_applied,
        max_price_applied=max_applied,
        categories=frozenset(by_category),
    )
