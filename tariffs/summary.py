"""Plain-language wording of a tariff for back-office staff ("0.59 EUR/kWh 07:00-23:00, parking 6.00 EUR/h").

Works on the OCPI Tariff object (`tariff_to_ocpi(...)`), so it reads the same data partners get. Components
are grouped by what they charge (session fee, energy, charging time, parking, reservation), in the order
they first appear. Within a group the elements are listed in tariff order, because the first element
whose restrictions hold supplies the price (tariffs.md 5.3): an unrestricted component after restricted
ones reads "otherwise", and components after an unrestricted one never apply and are left out.
Prices are excl. VAT; the VAT rates follow as one note. Pure functions, no database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")
_DAY_SHORT = {day: day[:3].title() for day in WEEKDAYS}
_DAY_LONG = {day: day.title() for day in WEEKDAYS}

# Group key -> name used in the VAT note.
_GROUP_NAMES = {
    "FLAT": "session fee",
    "ENERGY": "energy",
    "TIME": "charging time",
    "PARKING_TIME": "parking",
    "RESERVATION": "reservation",
    "RESERVATION_EXPIRES": "expired reservation",
}


def format_price(value: Any) -> str:
    """A unit price with at least 2 decimals and no more than it has (0.5 -> 0.50, 0.255 -> 0.255)."""
    number = Decimal(str(value))
    if number == number.quantize(Decimal("0.01")):
        return f"{number.quantize(Decimal('0.01'))}"
    return f"{number.normalize():f}"


def format_number(value: Any) -> str:
    """A quantity without trailing zeros (32.00 -> 32, 7.5 -> 7.5)."""
    number = Decimal(str(value)).normalize()
    return f"{number:f}"


def format_duration(seconds: Any) -> str:
    """Seconds in words: 1800 -> "30 min", 5400 -> "1 h 30 min", 90 -> "1 min 30 s"."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)


def format_days(days: Sequence[str]) -> str:
    """MONDAY..FRIDAY -> "on weekdays", SATURDAY+SUNDAY -> "on weekends", runs -> "Mon-Wed", "" for every day."""
    chosen = [day for day in WEEKDAYS if day in set(days)]
    if not chosen or len(chosen) == 7:
        return ""
    if chosen == list(WEEKDAYS[:5]):
        return "on weekdays"
    if chosen == list(WEEKDAYS[5:]):
        return "on weekends"
    if len(chosen) == 1:
        return f"on {_DAY_LONG[chosen[0]]}"
    runs: list[list[str]] = []
    for day in chosen:
        if runs and WEEKDAYS.index(day) == WEEKDAYS.index(runs[-1][-1]) + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    words = [
        f"{_DAY_SHORT[run[0]]}-{_DAY_SHORT[run[-1]]}" if len(run) > 2 else ", ".join(_DAY_SHORT[day] for day in run)
        for run in runs
    ]
    return "on " + ", ".join(words)


def _range(low: Any, high: Any, unit: str) -> str:
    """min inclusive, max exclusive (tariffs.md 4.4)."""
    if low is not None and high is not None:
        return f"at {format_number(low)}-{format_number(high)} {unit}"
    if low is not None:
        return f"from {format_number(low)} {unit}"
    return f"below {format_number(high)} {unit}"


def restrictions_text(restrictions: Mapping[str, Any] | None) -> str:
    """The conditions of an element in words (reservation is worded by the caller); "" when none."""
    r = restrictions or {}
    parts: list[str] = []
    start, end = r.get("start_time"), r.get("end_time")
    if start and end:
        parts.append(f"{start}-{end}")
    elif start:
        parts.append(f"from {start}")
    elif end:
        parts.append(f"until {end}")
    days = format_days(r.get("day_of_week") or [])
    if days:
        parts.append(days)
    if r.get("start_date"):
        parts.append(f"from {r['start_date']}")
    if r.get("end_date"):
        parts.append(f"before {r['end_date']}")
    if r.get("min_kwh") is not None or r.get("max_kwh") is not None:
        low, high = r.get("min_kwh"), r.get("max_kwh")
        if low is not None and high is not None:
            parts.append(f"from {format_number(low)} to {format_number(high)} kWh charged")
        elif low is not None:
            parts.append(f"after {format_number(low)} kWh")
        else:
            parts.append(f"for the first {format_number(high)} kWh")
    if r.get("min_duration") is not None or r.get("max_duration") is not None:
        low, high = r.get("min_duration"), r.get("max_duration")
        if low is not None and high is not None:
            parts.append(f"from {format_duration(low)} to {format_duration(high)} into the session")
        elif low is not None:
            parts.append(f"after {format_duration(low)}")
        else:
            parts.append(f"for the first {format_duration(high)}")
    if r.get("min_power") is not None or r.get("max_power") is not None:
        parts.append(_range(r.get("min_power"), r.get("max_power"), "kW"))
    if r.get("min_current") is not None or r.get("max_current") is not None:
        parts.append(_range(r.get("min_current"), r.get("max_current"), "A"))
    return " ".join(parts)


def _component_text(component: Mapping[str, Any], currency: str, reservation: str | None) -> str:
    amount = f"{format_price(component['price'])} {currency}"
    kind = component["type"]
    if reservation == "RESERVATION_EXPIRES":
        if kind == "FLAT":
            return f"{amount} if the reservation expires"
        return f"expired reservation {amount}/h"
    if reservation == "RESERVATION":
        if kind == "FLAT":
            return f"{amount} per reservation"
        return f"reservation {amount}/h"
    if kind == "FLAT":
        return f"{amount} per session"
    if kind == "ENERGY":
        return f"{amount}/kWh"
    if kind == "TIME":
        return f"{amount}/h charging"
    return f"parking {amount}/h"


def _group_of(component: Mapping[str, Any], reservation: str | None) -> tuple[str, str]:
    """(what the price is for, the VAT-note name group): a reservation's FLAT and TIME are separate prices."""
    kind = str(component["type"])
    return (f"{reservation}:{kind}" if reservation else kind), (reservation or kind)


def _join(names: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _vat_note(rates: dict[str, list[Any]], tax_included: str | None) -> str:
    if tax_included == "YES":
        return "incl. taxes"
    every = [rate for group_rates in rates.values() for rate in group_rates]
    if all(rate is None for rate in every):
        return ""
    distinct = {None if rate is None else Decimal(str(rate)) for rate in every}
    if len(distinct) == 1:
        return f"excl. {format_number(every[0])}% VAT"
    by_rate: dict[str, list[str]] = {}
    for group, group_rates in rates.items():
        values = {None if rate is None else Decimal(str(rate)) for rate in group_rates}
        shown = "/".join(sorted(("no VAT" if v is None else format_number(v) + "%") for v in values))
        by_rate.setdefault(shown, []).append(_GROUP_NAMES[group])
    words = [f"{shown} on {_join(names)}" for shown, names in by_rate.items()]
    return "excl. VAT (" + ", ".join(words) + ")"


def tariff_summary(tariff: Mapping[str, Any]) -> str:
    """One line describing the tariff's prices, e.g.
    "0.59 EUR/kWh 07:00-23:00, 0.45 EUR/kWh otherwise, parking 6.00 EUR/h; excl. 21% VAT"."""
    currency = tariff.get("currency") or ""
    groups: dict[str, list[str]] = {}
    closed: set[str] = set()  # groups that already had an unrestricted component: later ones never apply
    restricted: set[str] = set()
    rates: dict[str, list[Any]] = {}
    prices: list[Decimal] = []
    for element in tariff.get("elements") or []:
        restrictions = dict(element.get("restrictions") or {})
        reservation = restrictions.pop("reservation", None)
        condition = restrictions_text(restrictions)
        for component in element.get("price_components") or []:
            group, vat_group = _group_of(component, reservation)
            if group in closed:
                continue
            text = _component_text(component, currency, reservation)
            if condition:
                text = f"{text} {condition}"
                restricted.add(group)
            else:
                if group in restricted:
                    text = f"{text} otherwise"
                closed.add(group)
            groups.setdefault(group, []).append(text)
            rates.setdefault(vat_group, []).append(component.get("vat"))
            prices.append(Decimal(str(component["price"])))
    if not groups:
        return ""
    if not any(prices) and not tariff.get("min_price"):
        return "Free of charge"
    text = ", ".join(phrase for phrases in groups.values() for phrase in phrases)
    limits = []
    if tariff.get("min_price"):
        limits.append(f"minimum {format_price(tariff['min_price']['excl_vat'])} {currency}")
    if tariff.get("max_price"):
        limits.append(f"maximum {format_price(tariff['max_price']['excl_vat'])} {currency}")
    if limits:
        text += "; " + ", ".join(limits) + " per session"
    note = _vat_note(rates, tariff.get("tax_included"))
    return f"{text}; {note}" if note else text


def tariff_summary_safe(tariff: Mapping[str, Any]) -> str:
    """tariff_summary for display: a stored tariff that cannot be worded shows a hint instead of failing."""
    try:
        return tariff_summary(tariff)
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return "(cannot summarise these elements)"


__all__ = [
    "format_days",
    "format_duration",
    "format_price",
    "restrictions_text",
    "tariff_summary",
    "tariff_summary_safe",
]
