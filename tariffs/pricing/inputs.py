"""Building charging input: from OCPI JSON charging periods, or a simple synthetic session."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from tariffs.pricing.calendar import get_zone
from tariffs.pricing.types import (
    ChargingDataError,
    ChargingPeriodIn,
    Dimension,
    SessionPeriods,
    parse_datetime,
    to_decimal,
)


def period_from_ocpi(data: Mapping[str, Any]) -> ChargingPeriodIn:
    """One OCPI ChargingPeriod dict ({start_date_time, dimensions[{type, volume}], tariff_id?})."""
    if not isinstance(data, Mapping):
        raise ChargingDataError("a ChargingPeriod must be an object")
    try:
        start = parse_datetime(data["start_date_time"])
    except (KeyError, ValueError):
        raise ChargingDataError(f"start_date_time: {data.get('start_date_time')!r} is not a DateTime") from None
    dims = tuple(
        Dimension(type=dim["type"], volume=to_decimal(dim["volume"], f"{dim['type']} volume", ChargingDataError))
        for dim in data.get("dimensions") or ()
    )
    return ChargingPeriodIn(start_date_time=start, dimensions=dims, tariff_id=data.get("tariff_id"))


def periods_from_ocpi(data: Iterable[Mapping[str, Any]]) -> list[ChargingPeriodIn]:
    """OCPI `charging_periods` JSON (from a Session or CDR) -> engine input, volumes as Decimal."""
    return [period_from_ocpi(item) for item in data]


def coerce_periods(periods: Iterable[ChargingPeriodIn | Mapping[str, Any]]) -> list[ChargingPeriodIn]:
    return [p if isinstance(p, ChargingPeriodIn) else period_from_ocpi(p) for p in periods]


def simple_session(
    start: datetime,
    energy_kwh: Decimal | float | int | str,
    charging_minutes: Decimal | float | int,
    parking_minutes: Decimal | float | int = 0,
    max_power_kw: Decimal | float | int | str | None = None,
    time_zone: str = "Europe/Amsterdam",
    *,
    reservation_minutes: Decimal | float | int = 0,
) -> SessionPeriods:
    """Charging periods of a plain session: [reservation] -> charging -> [parking].

    `start` is the moment charging starts (a naive `start` is local time in `time_zone`); an
    optional reservation precedes it. The charging period carries ENERGY, TIME and MAX_POWER
    (`max_power_kw`, else the average power); parking carries PARKING_TIME. Cutting at tariff
    boundaries is left to `price()`, which assumes energy flows linearly within a period. The
    returned list knows `end_date_time` and `time_zone`, so `price(tariff, periods)` suffices.
    """
    zone = get_zone(time_zone)
    if start.tzinfo is None:
        start = start.replace(tzinfo=zone)
    start = start.astimezone(UTC)
    energy = to_decimal(energy_kwh, "energy_kwh", ChargingDataError)
    charging = to_decimal(charging_minutes, "charging_minutes", ChargingDataError)
    parking = to_decimal(parking_minutes, "parking_minutes", ChargingDataError)
    reserved = to_decimal(reservation_minutes, "reservation_minutes", ChargingDataError)
    if min(charging, parking, reserved) < 0:
        raise ChargingDataError("durations must not be negative")
    if energy and not charging:
        raise ChargingDataError("energy needs charging time")
    periods: list[ChargingPeriodIn] = []
    if reserved:
        periods.append(
            ChargingPeriodIn(
                start - timedelta(minutes=float(reserved)),
                (Dimension("RESERVATION_TIME", reserved / 60),),
            )
        )
    moment = start
    if charging:
        hours = charging / 60
        power = to_decimal(max_power_kw, "max_power_kw", ChargingDataError) if max_power_kw is not None else None
        dims = [Dimension("ENERGY", energy), Dimension("TIME", hours)]
        dims.append(Dimension("MAX_POWER", power if power is not None else energy / hours))
        periods.append(ChargingPeriodIn(moment, tuple(dims)))
        moment += timedelta(seconds=float(charging * 60))
    if parking or not periods:
        periods.append(ChargingPeriodIn(moment, (Dimension("PARKING_TIME", parking / 60),)))
        moment += timedelta(seconds=float(parking * 60))
    return SessionPeriods(periods, end_date_time=moment, time_zone=time_zone)


__all__ = ["coerce_periods", "period_from_ocpi", "periods_from_ocpi", "simple_session"]
