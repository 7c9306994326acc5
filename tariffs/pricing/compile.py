"""OCPI Tariff dict -> CompiledTariff: validated Decimals, parsed restrictions and the thresholds
at which the engine must cut charging periods (tariffs.md §4, §5.2)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tariffs.pricing.types import (
    CATEGORY_FIXED,
    CATEGORY_PARKING,
    CATEGORY_RESERVATION,
    ComponentRef,
    Price,
    TariffError,
    parse_datetime,
    to_decimal,
)

TARIFF_DIMENSION_TYPES = ("ENERGY", "FLAT", "PARKING_TIME", "TIME")
RESERVATION = "RESERVATION"
RESERVATION_EXPIRES = "RESERVATION_EXPIRES"
RESERVATION_TYPES = (RESERVATION, RESERVATION_EXPIRES)
DAYS_OF_WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")

US_PER_MINUTE = 60_000_000
US_PER_DAY = 24 * 60 * US_PER_MINUTE

_TIME_RE = re.compile(r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$")
_DATE_RE = re.compile(r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")


@dataclass(frozen=True, slots=True)
class Restrictions:
    """Parsed TariffRestrictions. Times of day are microseconds after local midnight; an
    `end_time` of 00:00 is stored as 24:00 ("until end of day")."""

    start_us: int | None = None
    end_us: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: Decimal | None = None
    max_duration: Decimal | None = None
    days: frozenset[int] | None = None  # date.weekday() numbers
    reservation: str | None = None

    @property
    def uses_local_time(self) -> bool:
        return (
            self.start_us is not None
            or self.end_us is not None
            or self.start_date is not None
            or self.end_date is not None
            or self.days is not None
        )


@dataclass(frozen=True, slots=True)
class CompiledElement:
    index: int
    components: Mapping[str, ComponentRef]  # first component of each TariffDimensionType
    restrictions: Restrictions | None
    flat_category: str  # CDR breakdown a FLAT of this element goes to (spec-issues E2)


@dataclass(frozen=True, slots=True)
class CompiledTariff:
    """A tariff ready for pricing; build once with `compile_tariff` and reuse (it is immutable)."""

    id: str | None
    currency: str
    type: str | None
    start_date_time: datetime | None
    end_date_time: datetime | None
    min_price: Price | None
    max_price: Price | None
    elements: tuple[CompiledElement, ...]
    # candidates per selection key, in list order (tariffs.md §5.3)
    normal: Mapping[str, tuple[CompiledElement, ...]]
    reservation: Mapping[str, tuple[CompiledElement, ...]]
    reservation_expired: Mapping[str, tuple[CompiledElement, ...]]
    # where a restriction can change its answer inside a period
    local_minutes: tuple[int, ...]  # minutes of the local day (always incl. midnight if non-empty)
    kwh_thresholds: tuple[Decimal, ...]
    duration_thresholds: tuple[Decimal, ...]  # seconds after session start
    uses_local_time: bool
    uses_duration: bool


def _time_us(value: Any, what: str) -> int:
    if not isinstance(value, str) or not _TIME_RE.match(value):
        raise TariffError(f"{what}: {value!r} is not a time HH:MM")
    return (int(value[:2]) * 60 + int(value[3:])) * US_PER_MINUTE


def _date(value: Any, what: str) -> date:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise TariffError(f"{what}: {value!r} is not a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise TariffError(f"{what}: {value!r} is not a valid date") from None


def _optional_number(raw: Mapping[str, Any], key: str, where: str) -> Decimal | None:
    value = raw.get(key)
    return None if value is None else to_decimal(value, f"{where}.{key}")


def parse_restrictions(raw: Mapping[str, Any] | None, where: str) -> Restrictions | None:
    """TariffRestrictions dict -> Restrictions; None/{} -> None (always valid)."""
    if not raw:
        return None
    if not isinstance(raw, Mapping):
        raise TariffError(f"{where}: restrictions must be an object")
    start_us = None if raw.get("start_time") is None else _time_us(raw["start_time"], f"{where}.start_time")
    end_us = None if raw.get("end_time") is None else _time_us(raw["end_time"], f"{where}.end_time")
    if end_us == 0:
        end_us = US_PER_DAY  # "use 00:00 to mean until end of day"
    days = None
    if raw.get("day_of_week"):
        names = raw["day_of_week"]
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise TariffError(f"{where}.day_of_week: a list of DayOfWeek is required")
        try:
            days = frozenset(DAYS_OF_WEEK.index(name) for name in names)
        except ValueError:
            raise TariffError(f"{where}.day_of_week: unknown day in {names!r}") from None
    reservation = raw.get("reservation")
    if reservation is not None and reservation not in RESERVATION_TYPES:
        raise TariffError(f"{where}.reservation: unknown ReservationRestrictionType {reservation!r}")
    restrictions = Restrictions(
        start_us=start_us,
        end_us=end_us,
        start_date=None if raw.get("start_date") is None else _date(raw["start_date"], f"{where}.start_date"),
        end_date=None if raw.get("end_date") is None else _date(raw["end_date"], f"{where}.end_date"),
        min_kwh=_optional_number(raw, "min_kwh", where),
        max_kwh=_optional_number(raw, "max_kwh", where),
        min_current=_optional_number(raw, "min_current", where),
        max_current=_optional_number(raw, "max_current", where),
        min_power=_optional_number(raw, "min_power", where),
        max_power=_optional_number(raw, "max_power", where),
        min_duration=_optional_number(raw, "min_duration", where),
        max_duration=_optional_number(raw, "max_duration", where),
        days=days,
        reservation=reservation,
    )
    return None if restrictions == Restrictions() else restrictions


def _price_limit(raw: Any, what: str) -> Price | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or raw.get("excl_vat") is None:
        raise TariffError(f"{what}: a Price with excl_vat is required")
    incl = raw.get("incl_vat")
    return Price(to_decimal(raw["excl_vat"], f"{what}.excl_vat"), None if incl is None else to_decimal(incl, what))


def _datetime(raw: Any, what: str) -> datetime | None:
    if raw is None or isinstance(raw, datetime):
        return raw
    try:
        return parse_datetime(raw)
    except ValueError:
        raise TariffError(f"{what}: {raw!r} is not an OCPI DateTime") from None


def _component(raw: Any, element_index: int, component_index: int) -> ComponentRef:
    where = f"elements[{element_index}].price_components[{component_index}]"
    if not isinstance(raw, Mapping):
        raise TariffError(f"{where}: must be an object")
    kind = raw.get("type")
    if kind not in TARIFF_DIMENSION_TYPES:
        raise TariffError(f"{where}.type: unknown TariffDimensionType {kind!r}")
    if raw.get("price") is None:
        raise TariffError(f"{where}.price is required")
    step = raw.get("step_size", 1)
    step_decimal = to_decimal(1 if step is None else step, f"{where}.step_size")
    if step_decimal != step_decimal.to_integral_value() or step_decimal < 0:
        raise TariffError(f"{where}.step_size: {step!r} is not a non-negative integer")
    vat = raw.get("vat")
    return ComponentRef(
        element_index=element_index,
        component_index=component_index,
        type=kind,
        price=to_decimal(raw["price"], f"{where}.price"),
        vat=None if vat is None else to_decimal(vat, f"{where}.vat"),
        step_size=int(step_decimal),
    )


def _flat_category(components: Mapping[str, ComponentRef], restrictions: Restrictions | None) -> str:
    """spec-issues E2: FLAT in a reservation element -> reservation; in an element whose other
    components are only PARKING_TIME -> parking; otherwise fixed."""
    if restrictions is not None and restrictions.reservation is not None:
        return CATEGORY_RESERVATION
    others = set(components) - {"FLAT"}
    if others == {"PARKING_TIME"}:
        return CATEGORY_PARKING
    return CATEGORY_FIXED


def compile_tariff(tariff: Mapping[str, Any] | CompiledTariff) -> CompiledTariff:
    """Validate and pre-process an OCPI Tariff dict (prices as float/int/str/Decimal)."""
    if isinstance(tariff, CompiledTariff):
        return tariff
    if not isinstance(tariff, Mapping):
        raise TariffError("tariff must be an OCPI Tariff object")
    raw_elements = tariff.get("elements")
    if not raw_elements or isinstance(raw_elements, str | bytes) or not isinstance(raw_elements, Sequence):
        raise TariffError("elements: at least one TariffElement is required")
    elements = []
    for index, raw_element in enumerate(raw_elements):
        if not isinstance(raw_element, Mapping) or not raw_element.get("price_components"):
            raise TariffError(f"elements[{index}].price_components: at least one PriceComponent is required")
        components: dict[str, ComponentRef] = {}
        for comp_index, raw_component in enumerate(raw_element["price_components"]):
            component = _component(raw_component, index, comp_index)
            components.setdefault(component.type, component)  # first of a type wins within an element
        restrictions = parse_restrictions(raw_element.get("restrictions"), f"elements[{index}].restrictions")
        if restrictions is not None and restrictions.reservation is not None:
            extra = set(components) - {"FLAT", "TIME"}
            if extra:
                raise TariffError(f"elements[{index}]: reservation elements may only contain FLAT and TIME")
        elements.append(CompiledElement(index, components, restrictions, _flat_category(components, restrictions)))

    def candidates(pool: list[CompiledElement], kind: str) -> tuple[CompiledElement, ...]:
        return tuple(element for element in pool if kind in element.components)

    def reservation_of(element: CompiledElement) -> str | None:
        return None if element.restrictions is None else element.restrictions.reservation

    normal_pool = [e for e in elements if reservation_of(e) is None]
    reservation_pool = [e for e in elements if reservation_of(e) == RESERVATION]
    # tariffs.md §4.5: for an expired reservation a RESERVATION_EXPIRES component wins over a
    # RESERVATION one whatever the list order; RESERVATION elements still apply (spec-issues F5).
    expired_pool = [e for e in elements if reservation_of(e) == RESERVATION_EXPIRES] + reservation_pool

    minutes: set[int] = set()
    kwh: set[Decimal] = set()
    durations: set[Decimal] = set()
    uses_local = False
    for element in elements:
        r = element.restrictions
        if r is None:
            continue
        if r.uses_local_time:
            uses_local = True
            minutes.add(0)  # local midnight: day_of_week / dates change, end_time 00:00
        for value in (r.start_us, r.end_us):
            if value is not None:
                minutes.add((value // US_PER_MINUTE) % (24 * 60))
        kwh.update(v for v in (r.min_kwh, r.max_kwh) if v is not None)
        durations.update(v for v in (r.min_duration, r.max_duration) if v is not None)

    currency = tariff.get("currency")
    if not isinstance(currency, str):
        raise TariffError("currency: ISO 4217 code required")
    tariff_id = tariff.get("id")
    return CompiledTariff(
        id=None if tariff_id is None else str(tariff_id),
        currency=currency,
        type=tariff.get("type"),
        start_date_time=_datetime(tariff.get("start_date_time"), "start_date_time"),
        end_date_time=_datetime(tariff.get("end_date_time"), "end_date_time"),
        min_price=_price_limit(tariff.get("min_price"), "min_price"),
        max_price=_price_limit(tariff.get("max_price"), "max_price"),
        elements=tuple(elements),
        normal={k: candidates(normal_pool, k) for k in TARIFF_DIMENSION_TYPES},
        reservation={k: candidates(reservation_pool, k) for k in ("TIME", "FLAT")},
        reservation_expired={k: candidates(expired_pool, k) for k in ("TIME", "FLAT")},
        local_minutes=tuple(sorted(minutes)),
        kwh_thresholds=tuple(sorted(kwh)),
        duration_thresholds=tuple(sorted(durations)),
        uses_local_time=uses_local,
        uses_duration=bool(durations),
    )
