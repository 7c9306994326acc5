"""Value types of the tariff engine: charging input, prices, priced periods and the priced session.

Pure standard library; no Django. Quantities are Decimals in the units of the OCPI CdrDimension
(kWh, hours, A, kW); money is unrounded until `to_ocpi()` (see `OCPI_QUANTUM`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

ZERO = Decimal(0)
SECONDS_PER_HOUR = Decimal(3600)

#: OCPI numbers produced by `to_ocpi()` have 4 decimals, rounded half-up (the spec leaves money
#: rounding to law/contract; the spec's own examples round half-up, spec-issues F8).
OCPI_QUANTUM = Decimal("0.0001")

CDR_DIMENSION_TYPES = frozenset(
    {
        "CURRENT",
        "ENERGY",
        "ENERGY_EXPORT",
        "ENERGY_IMPORT",
        "MAX_CURRENT",
        "MIN_CURRENT",
        "MAX_POWER",
        "MIN_POWER",
        "PARKING_TIME",
        "POWER",
        "RESERVATION_TIME",
        "STATE_OF_CHARGE",
        "TIME",
    }
)
#: CdrDimensionTypes that SHALL NOT appear in a CDR (Session only).
SESSION_ONLY_DIMENSIONS = frozenset({"CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"})

#: Keys of `PricedPeriod.components`: the four TariffDimensionTypes for the charging part, and
#: the reservation context (TIME of a reservation element prices RESERVATION_TIME).
SELECTION_KEYS = ("ENERGY", "TIME", "PARKING_TIME", "FLAT", "RESERVATION_TIME", "RESERVATION_FLAT")

# Cost categories of a CostLine = the CDR breakdown field they add to.
CATEGORY_ENERGY = "energy"
CATEGORY_TIME = "time"
CATEGORY_PARKING = "parking"
CATEGORY_RESERVATION = "reservation"
CATEGORY_FIXED = "fixed"
CATEGORIES = (CATEGORY_FIXED, CATEGORY_ENERGY, CATEGORY_TIME, CATEGORY_PARKING, CATEGORY_RESERVATION)


class TariffError(ValueError):
    """The tariff dict is not a usable OCPI 2.2.1 Tariff (bad number, time, enum...)."""


class ChargingDataError(ValueError):
    """The charging periods / session data cannot be priced (unsorted, naive datetimes...)."""


def to_decimal(value: Any, what: str = "number", error: type[ValueError] = TariffError) -> Decimal:
    """float/int/str/Decimal -> finite Decimal; floats go through their shortest repr (0.1 -> 0.1)."""
    if isinstance(value, bool):
        raise error(f"{what}: a number is required, got a boolean")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except ArithmeticError:
            raise error(f"{what}: {value!r} is not a number") from None
    else:
        raise error(f"{what}: a number is required, got {type(value).__name__}")
    if not result.is_finite():
        raise error(f"{what}: {value!r} is not a finite number")
    return result


def q4(value: Decimal) -> Decimal:
    """The OCPI output rounding: 4 decimals, ROUND_HALF_UP."""
    return value.quantize(OCPI_QUANTUM, rounding=ROUND_HALF_UP)


def parse_datetime(value: str | datetime) -> datetime:
    """OCPI DateTime -> aware UTC datetime. Accepts `Z`, an offset, or no designator (= UTC,
    spec-issues A6); raises ValueError otherwise."""
    if isinstance(value, datetime):
        moment = value
    else:
        if not isinstance(value, str):
            raise ValueError(f"{value!r} is not a DateTime string")
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_datetime(moment: datetime) -> str:
    """RFC 3339 UTC with `Z` (spec-issues A6); milliseconds only when present (string(25) limit)."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Dimension:
    """One CdrDimension of a charging period: `type` is a CdrDimensionType, `volume` its value."""

    type: str
    volume: Decimal

    def __post_init__(self) -> None:
        if self.type not in CDR_DIMENSION_TYPES:
            raise ChargingDataError(f"unknown CdrDimensionType {self.type!r}")
        if not isinstance(self.volume, Decimal):
            object.__setattr__(self, "volume", to_decimal(self.volume, f"{self.type} volume", ChargingDataError))


@dataclass(frozen=True, slots=True)
class ChargingPeriodIn:
    """A ChargingPeriod as measured: it lasts until the next period starts (the last one until the
    session end). ENERGY in kWh, TIME/PARKING_TIME/RESERVATION_TIME in hours, levels in A / kW."""

    start_date_time: datetime
    dimensions: tuple[Dimension, ...] = ()
    tariff_id: str | None = None

    def __post_init__(self) -> None:
        if self.start_date_time.tzinfo is None or self.start_date_time.utcoffset() is None:
            raise ChargingDataError("start_date_time must be timezone-aware")
        dims: list[Dimension] = []
        for dim in self.dimensions:
            if isinstance(dim, Mapping):
                dims.append(Dimension(type=dim["type"], volume=dim["volume"]))
            else:
                dims.append(dim)
        object.__setattr__(self, "dimensions", tuple(dims))

    def volume(self, dimension_type: str) -> Decimal | None:
        """The period's volume of that type (summed if repeated), None when absent."""
        found = None
        for dim in self.dimensions:
            if dim.type == dimension_type:
                found = dim.volume if found is None else found + dim.volume
        return found


class SessionPeriods(list):
    """What `simple_session` returns: a plain list of ChargingPeriodIn that also knows the session
    end and the location time zone, so `price(tariff, periods)` needs no further arguments."""

    def __init__(self, periods: Iterable[ChargingPeriodIn], *, end_date_time: datetime, time_zone: str) -> None:
        super().__init__(periods)
        self.end_date_time = end_date_time
        self.time_zone = time_zone


@dataclass(frozen=True, slots=True)
class Price:
    """OCPI Price. `incl_vat` is None only when it cannot be known (never for engine totals: an
    omitted component `vat` means "no VAT applicable", so it adds nothing, tariffs.md §4.3)."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def __add__(self, other: Price) -> Price:
        incl = None if self.incl_vat is None or other.incl_vat is None else self.incl_vat + other.incl_vat
        return Price(self.excl_vat + other.excl_vat, incl)

    def to_ocpi(self) -> dict[str, Decimal]:
        data = {"excl_vat": q4(self.excl_vat)}
        if self.incl_vat is not None:
            data["incl_vat"] = q4(self.incl_vat)
        return data


ZERO_PRICE = Price(ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class ComponentRef:
    """One PriceComponent of the tariff, located by element and component index (0-based)."""

    element_index: int
    component_index: int
    type: str
    price: Decimal
    vat: Decimal | None
    step_size: int

    def with_vat(self, amount: Decimal) -> Decimal:
        """Amount incl. this component's VAT (no VAT when `vat` is omitted)."""
        return amount if self.vat is None else amount + amount * self.vat / 100


@dataclass(frozen=True, slots=True)
class CostLine:
    """Invoice line: one price component with its billed (step-rounded) and metered quantity.

    Quantities are in the unit of `price`: kWh (ENERGY), hours (TIME/PARKING_TIME and reservation
    TIME), 1 for FLAT. `billed_seconds` is the exact time quantity for time components."""

    component: ComponentRef
    category: str
    metered_volume: Decimal
    billed_volume: Decimal
    billed_seconds: Decimal | None
    cost: Price


@dataclass(frozen=True, slots=True)
class PricedPeriod:
    """A ChargingPeriod as it goes into the CDR: the input period cut wherever another price
    component becomes active, with the components used (`components`, keys in SELECTION_KEYS)."""

    start_date_time: datetime
    end_date_time: datetime
    dimensions: tuple[Dimension, ...]
    tariff_id: str | None
    components: Mapping[str, ComponentRef]
    cost: Price  # informational: this period's billed quantities (incl. step excess) and FLAT fees
    source_index: int  # index of the input period it was cut from

    @property
    def element_index(self) -> int | None:
        """The element that priced this period (first of ENERGY, TIME, PARKING_TIME, RESERVATION_TIME, FLAT)."""
        for key in ("ENERGY", "TIME", "PARKING_TIME", "RESERVATION_TIME", "FLAT", "RESERVATION_FLAT"):
            if key in self.components:
                return self.components[key].element_index
        return None

    @property
    def element_indices(self) -> dict[str, int]:
        return {key: ref.element_index for key, ref in self.components.items()}

    def to_ocpi(self, *, include_session_dimensions: bool = False) -> dict[str, Any]:
        """ChargingPeriod JSON; session-only dimension types are dropped unless asked for."""
        dims = [
            {"type": dim.type, "volume": q4(dim.volume)}
            for dim in self.dimensions
            if include_session_dimensions or dim.type not in SESSION_ONLY_DIMENSIONS
        ]
        if not dims:  # CDR ChargingPeriod.dimensions is `+`
            dims = [{"type": "TIME", "volume": q4(ZERO)}]
        data: dict[str, Any] = {"start_date_time": format_datetime(self.start_date_time), "dimensions": dims}
        if self.tariff_id is not None:
            data["tariff_id"] = self.tariff_id
        return data


@dataclass(frozen=True, slots=True)
class PricedResult:
    """A priced session: the CDR totals (unrounded Decimals) and the priced charging periods."""

    currency: str
    tariff_id: str | None
    start_date_time: datetime
    end_date_time: datetime
    total_cost: Price
    total_fixed_cost: Price
    total_energy_cost: Price
    total_time_cost: Price
    total_parking_cost: Price
    total_reservation_cost: Price
    total_energy: Decimal  # kWh, metered (sum of ENERGY dimensions)
    total_time: Decimal  # hours, session duration (reservation-only periods excluded)
    total_parking_time: Decimal  # hours (sum of PARKING_TIME dimensions)
    total_reservation_time: Decimal  # hours (sum of RESERVATION_TIME dimensions)
    periods: tuple[PricedPeriod, ...]
    lines: tuple[CostLine, ...]
    cost_before_limits: Price  # sum of the lines, before min_price/max_price
    min_price_applied: bool = False
    max_price_applied: bool = False
    categories: frozenset[str] = field(default_factory=frozenset)  # categories that have a CostLine

    def to_ocpi(self) -> dict[str, Any]:
        """The CDR fields the engine owns. Numbers are Decimals with 4 decimals (ROUND_HALF_UP);
        OcpiNumberField renders them as JSON numbers. Breakdown cost fields are present when a
        component of that category was active (total_cost always)."""
        data: dict[str, Any] = {
            "start_date_time": format_datetime(self.start_date_time),
            "end_date_time": format_datetime(self.end_date_time),
            "currency": self.currency,
            "charging_periods": [period.to_ocpi() for period in self.periods],
            "total_cost": self.total_cost.to_ocpi(),
            "total_energy": q4(self.total_energy),
            "total_time": q4(self.total_time),
            "total_parking_time": q4(self.total_parking_time),
        }
        for category, key, value in (
            (CATEGORY_FIXED, "total_fixed_cost", self.total_fixed_cost),
            (CATEGORY_ENERGY, "total_energy_cost", self.total_energy_cost),
            (CATEGORY_TIME, "total_time_cost", self.total_time_cost),
            (CATEGORY_PARKING, "total_parking_cost", self.total_parking_cost),
            (CATEGORY_RESERVATION, "total_reservation_cost", self.total_reservation_cost),
        ):
            if category in self.categories:
                data[key] = value.to_ocpi()
        return data
