"""Price preview of a sample session under a tariff, for the tariff page of the admin.

A thin shaping layer over the tariff engine (tariffs.engine: `simple_session` + `price`, the code that prices
sessions and CDRs): no pricing logic here, only the figures the staff sees, money rounded to cents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ocpi_platform.admin_format import cents
from tariffs.engine import ChargingDataError, Price, PricedResult, TariffError, price, simple_session, tariff_is_active
from tariffs.summary import format_price

_CATEGORY_LABELS = (
    ("fixed", "total_fixed_cost", "Session fees (FLAT)"),
    ("energy", "total_energy_cost", "Energy (ENERGY)"),
    ("time", "total_time_cost", "Charging time (TIME)"),
    ("parking", "total_parking_cost", "Parking (PARKING_TIME)"),
    ("reservation", "total_reservation_cost", "Reservation"),
)
_UNITS = {"ENERGY": "kWh", "TIME": "h", "PARKING_TIME": "h", "FLAT": "session"}


@dataclass(frozen=True)
class PreviewRow:
    label: str
    excl_vat: Decimal | None
    incl_vat: Decimal | None
    detail: str = ""


@dataclass(frozen=True)
class PricePreview:
    currency: str
    total: PreviewRow
    categories: list[PreviewRow]
    lines: list[PreviewRow]
    notes: list[str] = field(default_factory=list)
    result: PricedResult | None = None


def _row(label: str, amount: Price, detail: str = "") -> PreviewRow:
    return PreviewRow(label, cents(amount.excl_vat), cents(amount.incl_vat), detail)


def _quantity(volume: Decimal, unit: str) -> str:
    if unit == "h":
        minutes = (volume * 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
        return f"{minutes:f} min"
    return f"{volume.quantize(Decimal('0.001'), rounding=ROUND_HALF_UP).normalize():f} {unit}"


def tariff_preview(
    tariff: Mapping[str, Any],
    *,
    start: datetime,
    charging_minutes: Decimal,
    energy_kwh: Decimal,
    parking_minutes: Decimal = Decimal(0),
    max_power_kw: Decimal | None = None,
    time_zone: str,
) -> PricePreview:
    """Price a sample session (charging from `start`, local time in `time_zone`, then parking) with the engine.

    Raises ValueError (the engine's TariffError / ChargingDataError) when the input cannot be priced.
    """
    periods = simple_session(
        start, energy_kwh, charging_minutes, parking_minutes, max_power_kw=max_power_kw, time_zone=time_zone
    )
    result = price(tariff, periods)
    currency = str(tariff.get("currency") or "")
    categories = [
        _row(label, getattr(result, attribute))
        for category, attribute, label in _CATEGORY_LABELS
        if category in result.categories
    ]
    lines = []
    for line in result.lines:
        component = line.component
        unit = _UNITS.get(component.type, "")
        if line.category == "reservation":
            unit = "session" if component.type == "FLAT" else "h"
        if unit == "session":
            detail = f"per session: {format_price(component.price)} {currency}"
        else:
            detail = f"{_quantity(line.billed_volume, unit)} billed"
            if line.metered_volume != line.billed_volume:
                detail += f" ({_quantity(line.metered_volume, unit)} used)"
            detail += f" x {format_price(component.price)} {currency}"
        if component.vat is not None:
            detail += f" + {component.vat.normalize():f}% VAT"
        label = f"Element {component.element_index + 1}, {component.type}"
        lines.append(_row(label, line.cost, detail))
    notes = []
    if result.min_price_applied:
        notes.append("The tariff's minimum price applies (the components add up to less).")
    if result.max_price_applied:
        notes.append("The tariff's maximum price applies (the components add up to more).")
    if not tariff_is_active(tariff, result.start_date_time):
        notes.append("The tariff is not valid at this start time (start_date_time / end_date_time).")
    total = _row("Total", result.total_cost)
    return PricePreview(currency, total, categories, lines, notes, result)


__all__ = ["ChargingDataError", "PreviewRow", "PricePreview", "TariffError", "cents", "tariff_preview"]
