"""Property tests of the tariff engine over random tariffs (all restriction kinds) and sessions
(DST days included): costs are never negative, incl_vat >= excl_vat, cutting the same charging
into more periods never changes the result, and a priced CDR re-prices to the same totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tariffs.engine import ChargingPeriodIn, Dimension, Price, PricedResult, price

D = Decimal
ZONES = ["Europe/Amsterdam", "America/New_York", "Australia/Sydney"]
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
# session starts near the 2024 DST changes of the three zones, plus anywhere in the year
DST_MOMENTS = [
    datetime(2024, 3, 30, 22, 0, tzinfo=UTC),
    datetime(2024, 10, 26, 22, 0, tzinfo=UTC),
    datetime(2024, 3, 10, 5, 0, tzinfo=UTC),
    datetime(2024, 11, 3, 4, 0, tzinfo=UTC),
    datetime(2024, 4, 6, 14, 0, tzinfo=UTC),
    datetime(2024, 10, 5, 14, 0, tzinfo=UTC),
]

prices = st.decimals(min_value=0, max_value=5, places=2)
vats = st.sampled_from([None, D(0), D(9), D(21)])
times_of_day = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 30, 45]))


@st.composite
def restrictions(draw: st.DrawFn) -> dict[str, Any]:
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        r["start_time"] = draw(times_of_day)
    if draw(st.booleans()):
        r["end_time"] = draw(times_of_day)
    if draw(st.integers(0, 3)) == 0:
        r["day_of_week"] = draw(st.lists(st.sampled_from(DAYS), min_size=1, max_size=6, unique=True))
    if draw(st.integers(0, 3)) == 0:
        day = draw(st.dates(min_value=datetime(2024, 1, 1).date(), max_value=datetime(2024, 12, 31).date()))
        r[draw(st.sampled_from(["start_date", "end_date"]))] = day.isoformat()
    for low, high, values in (
        ("min_kwh", "max_kwh", st.integers(0, 40)),
        ("min_power", "max_power", st.sampled_from([3, 11, 22, 50])),
        ("min_current", "max_current", st.sampled_from([6, 16, 32])),
        ("min_duration", "max_duration", st.integers(1, 24).map(lambda n: n * 600)),
    ):
        if draw(st.integers(0, 2)) == 0:
            r[draw(st.sampled_from([low, high]))] = draw(values)
    return r


@st.composite
def elements(draw: st.DrawFn, restricted: bool = True) -> dict[str, Any]:
    kinds = draw(
        st.lists(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]), min_size=1, max_size=4, unique=True)
    )
    components = []
    for kind in kinds:
        steps = [0, 1, 100, 500] if kind == "ENERGY" else [0, 1, 60, 300, 900]
        component = {"type": kind, "price": draw(prices), "step_size": draw(st.sampled_from(steps))}
        vat = draw(vats)
        if vat is not None:
            component["vat"] = vat
        components.append(component)
    element: dict[str, Any] = {"price_components": components}
    if restricted:
        element["restrictions"] = draw(restrictions())
    return element


@st.composite
def tariffs(draw: st.DrawFn) -> dict[str, Any]:
    items = draw(st.lists(elements(), min_size=1, max_size=4))
    if draw(st.booleans()):
        items.append(draw(elements(restricted=False)))
    data: dict[str, Any] = {"id": "P", "currency": "EUR", "elements": items}
    low = draw(st.none() | prices)
    high = draw(st.none() | prices.map(lambda p: p * 10))
    if low is not None:
        data["min_price"] = {"excl_vat": low, "incl_vat": low * D("1.21")}
    if high is not None and (low is None or high >= low):
        data["max_price"] = {"excl_vat": high, "incl_vat": high * D("1.21")}
    return data


# A segment: (minutes, Wh per minute or None for parking, measured max power given?)
segments = st.lists(
    st.tuples(st.integers(1, 240), st.none() | st.integers(0, 1000), st.booleans(), st.sampled_from([None, 10, 32])),
    min_size=1,
    max_size=5,
)
starts = st.one_of(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2024, 12, 30)).map(
        lambda d: d.replace(second=0, microsecond=0, tzinfo=UTC)
    ),
    st.sampled_from(DST_MOMENTS),
)


def make_periods(start: datetime, segs: list[tuple], cuts: list[int] | None = None) -> tuple[list, datetime]:
    """Periods of the segments; `cuts[i]` > 0 cuts segment i after that many minutes, with the
    energy and time divided in proportion (what a CPO sending more periods would report)."""
    periods = []
    moment = start
    for index, (minutes, rate, measured, current) in enumerate(segs):
        cut = cuts[index] if cuts else 0
        parts = [cut, minutes - cut] if 0 < cut < minutes else [minutes]
        for part in parts:
            if rate is None:
                dims = [Dimension("PARKING_TIME", D(part) / 60)]
            else:
                dims = [Dimension("ENERGY", D(rate * part) / 1000), Dimension("TIME", D(part) / 60)]
                if measured:
                    dims.append(Dimension("MAX_POWER", D(rate * 60) / 1000))
                if current is not None:
                    dims.append(Dimension("MAX_CURRENT", D(current)))
            periods.append(ChargingPeriodIn(moment, tuple(dims)))
            moment += timedelta(minutes=part)
    return periods, moment


def all_prices(result: PricedResult) -> list[Price]:
    return [
        result.total_cost,
        result.total_fixed_cost,
        result.total_energy_cost,
        result.total_time_cost,
        result.total_parking_cost,
        result.total_reservation_cost,
        result.cost_before_limits,
        *(line.cost for line in result.lines),
        *(period.cost for period in result.periods),
    ]


def summary(result: PricedResult) -> tuple:
    return (
        result.total_cost,
        result.total_fixed_cost,
        result.total_energy_cost,
        result.total_time_cost,
        result.total_parking_cost,
        result.total_energy,
        result.total_time,
        result.total_parking_time,
        sorted((line.component.element_index, line.component.type, line.billed_volume) for line in result.lines),
    )


PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(tariff=tariffs(), start=starts, segs=segments, zone=st.sampled_from(ZONES))
def test_costs_never_negative_and_incl_at_least_excl(tariff: dict, start: datetime, segs: list, zone: str) -> None:
    periods, end = make_periods(start, segs)
    result = price(tariff, periods, end_date_time=end, time_zone=zone)
    for amount in all_prices(result):
        assert amount.excl_vat >= 0
        assert amount.incl_vat is not None
        assert amount.incl_vat >= amount.excl_vat
    assert result.total_time * 60 == sum(minutes for minutes, *_ in segs)
    assert sum((p.end_date_time - p.start_date_time for p in result.periods), timedelta()) == end - start


@PROPERTY_SETTINGS
@given(tariff=tariffs(), start=starts, segs=segments, zone=st.sampled_from(ZONES), data=st.data())
def test_more_periods_never_change_the_price(
    tariff: dict, start: datetime, segs: list, zone: str, data: st.DataObject
) -> None:
    cuts = [data.draw(st.integers(0, minutes)) for minutes, *_ in segs]
    periods, end = make_periods(start, segs)
    finer, finer_end = make_periods(start, segs, cuts)
    assert finer_end == end
    coarse_result = price(tariff, periods, end_date_time=end, time_zone=zone)
    fine_result = price(tariff, finer, end_date_time=end, time_zone=zone)
    assert summary(fine_result) == summary(coarse_result)


@PROPERTY_SETTINGS
@given(tariff=tariffs(), start=starts, segs=segments, zone=st.sampled_from(ZONES))
def test_priced_periods_reprice_to_the_same_total(tariff: dict, start: datetime, segs: list, zone: str) -> None:
    """An eMSP re-pricing our CDR's charging periods with the same tariff finds the same cost."""
    periods, end = make_periods(start, segs)
    first = price(tariff, periods, end_date_time=end, time_zone=zone)
    again = price(
        tariff,
        [ChargingPeriodIn(p.start_date_time, p.dimensions) for p in first.periods],
        end_date_time=end,
        time_zone=zone,
    )
    assert summary(again) == summary(first)
