"""Steps 3 and 5 of the pricing algorithm (see `tariffs.pricing.core`): step_size rounding,
amounts with VAT, min/max price, and the dimensions of the output periods."""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from tariffs.pricing.compile import CompiledTariff
from tariffs.pricing.cutting import Piece
from tariffs.pricing.types import (
    CATEGORY_ENERGY,
    CATEGORY_PARKING,
    CATEGORY_RESERVATION,
    CATEGORY_TIME,
    SECONDS_PER_HOUR,
    ZERO,
    ComponentRef,
    Dimension,
    Price,
)

_THOUSAND = Decimal(1000)

# selection key -> cost category of its quantity; FLAT keys are handled apart
QUANTITY_KEYS = {
    "ENERGY": CATEGORY_ENERGY,
    "TIME": CATEGORY_TIME,
    "PARKING_TIME": CATEGORY_PARKING,
    "RESERVATION_TIME": CATEGORY_RESERVATION,
}
TIME_KEYS = ("TIME", "PARKING_TIME", "RESERVATION_TIME")


def _round_up(total: Decimal, step: Decimal) -> Decimal:
    return (total / step).to_integral_value(rounding=ROUND_CEILING) * step


def apply_steps(pieces: list[Piece]) -> None:
    """Step 3: fill piece.billed (kWh / seconds) and add step_size excess to the last paid piece."""
    for piece in pieces:
        sel, billed = piece.sel, piece.billed
        if "ENERGY" in sel and piece.energy:
            billed["ENERGY"] = piece.energy
        for key, value in (
            ("TIME", piece.time_s),
            ("PARKING_TIME", piece.parking_s),
            ("RESERVATION_TIME", piece.reservation_s),
        ):
            if key in sel and value:
                billed[key] = value
    energy = [p for p in pieces if "ENERGY" in p.billed]
    if energy:
        last = energy[-1]
        step = last.sel["ENERGY"].step_size
        total = sum((p.billed["ENERGY"] for p in energy), ZERO)
        if step and total > 0:  # step in Wh
            last.billed["ENERGY"] += _round_up(total * _THOUSAND, Decimal(step)) / _THOUSAND - total
    timed = [p for p in pieces if "TIME" in p.billed or "PARKING_TIME" in p.billed]
    if timed:
        last = timed[-1]
        # a piece with both: parking follows charging inside a period
        key = "PARKING_TIME" if "PARKING_TIME" in last.billed else "TIME"
        _round_kind(pieces, last, key)
    reserved = [p for p in pieces if "RESERVATION_TIME" in p.billed]
    if reserved:
        _round_kind(pieces, reserved[-1], "RESERVATION_TIME")


def _round_kind(pieces: list[Piece], last: Piece, key: str) -> None:
    step = last.sel[key].step_size
    total = sum((p.billed.get(key, ZERO) for p in pieces), ZERO)
    if step and total > 0:
        last.billed[key] += _round_up(total, Decimal(step)) - total


def amount_of(ref: ComponentRef, key: str, quantity: Decimal) -> Decimal:
    if key in TIME_KEYS:
        return quantity * ref.price / SECONDS_PER_HOUR
    return quantity * ref.price


def apply_limits(total: Price, ct: CompiledTariff) -> tuple[Price, bool, bool]:
    """min_price/max_price clamp excl and incl independently (tariffs.md §4.1). A limit without
    incl_vat moves incl_vat in proportion to the excl_vat change (keeps the session's VAT mix)."""
    excl = total.excl_vat
    incl = total.incl_vat if total.incl_vat is not None else excl
    ratio = incl / excl if excl else None
    min_applied = max_applied = False
    low, high = ct.min_price, ct.max_price
    if low is not None:
        if excl < low.excl_vat:
            excl, min_applied = low.excl_vat, True
            if low.incl_vat is None:
                incl = excl * ratio if ratio is not None else max(incl, excl)
        if low.incl_vat is not None and incl < low.incl_vat:
            incl, min_applied = low.incl_vat, True
    if high is not None:
        if excl > high.excl_vat:
            excl, max_applied = high.excl_vat, True
            if high.incl_vat is None:
                incl = excl * ratio if ratio is not None else min(incl, excl)
        if high.incl_vat is not None and incl > high.incl_vat:
            incl, max_applied = high.incl_vat, True
    return Price(excl, incl), min_applied, max_applied


def piece_dimensions(piece: Piece, whole: bool) -> tuple[Dimension, ...]:
    source = piece.period.source
    if whole:
        return source.dimensions
    period = piece.period
    dims = []
    for dim in source.dimensions:
        kind = dim.type
        if kind == "ENERGY":
            volume = piece.energy
        elif kind == "TIME":
            volume = piece.time_s / SECONDS_PER_HOUR
        elif kind == "PARKING_TIME":
            volume = piece.parking_s / SECONDS_PER_HOUR
        elif kind == "RESERVATION_TIME":
            volume = piece.reservation_s / SECONDS_PER_HOUR
        elif kind in ("ENERGY_IMPORT", "ENERGY_EXPORT"):
            volume = dim.volume * piece.dur_us / period.dur_us if period.dur_us else dim.volume
        else:
            volume = dim.volume  # levels (current, power, SoC) hold for every part of the period
        dims.append(Dimension(kind, volume))
    return tuple(dims)
