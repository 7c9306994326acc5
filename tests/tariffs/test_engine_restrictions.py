"""Tariff engine: one test per restriction and per edge (midnight, DST, step rounding, period
boundaries, price limits), input handling and the OCPI output."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tariffs.engine import (
    ChargingDataError,
    ChargingPeriodIn,
    Dimension,
    Price,
    TariffError,
    compile_tariff,
    periods_from_ocpi,
    price,
    select_tariff,
    simple_session,
    tariff_is_active,
)
from tests.tariffs.test_engine_support import (
    AMS,
    D,
    charge,
    element,
    example,
    line_of,
    local,
    park,
    reserve,
    run,
    tariff,
    utc,
)

MONDAY = "2024-05-06"


def time_tariff(**restrictions: object) -> dict:
    """TIME 2.00/h while the restrictions hold, else 1.00/h: the cost tells how long they held."""
    return tariff(element(("TIME", "2.00"), **restrictions), element(("TIME", "1.00")))


def energy_tariff(**restrictions: object) -> dict:
    return tariff(element(("ENERGY", "0.50"), **restrictions), element(("ENERGY", "0.20")))


# --- time of day ---------------------------------------------------------------------------------


def test_start_and_end_time_window() -> None:
    result = run(time_tariff(start_time="09:00", end_time="17:00"), local(f"{MONDAY} 08:30"), charge(60, 5))
    assert result.total_cost.excl_vat == D("1.50")  # 30 min at 1.00 + 30 min at 2.00
    result = run(time_tariff(start_time="09:00", end_time="17:00"), local(f"{MONDAY} 16:30"), charge(60, 5))
    assert result.total_cost.excl_vat == D("1.50")


def test_start_time_only() -> None:
    result = run(time_tariff(start_time="18:00"), local(f"{MONDAY} 17:00"), charge(180, 5))
    assert result.total_cost.excl_vat == D("5.00")  # 1 h at 1.00, 2 h at 2.00 (until 20:00)


def test_end_time_only() -> None:
    result = run(time_tariff(end_time="07:00"), local(f"{MONDAY} 06:00"), charge(120, 5))
    assert result.total_cost.excl_vat == D("3.00")


def test_end_time_midnight_means_end_of_day() -> None:
    result = run(time_tariff(start_time="18:00", end_time="00:00"), local(f"{MONDAY} 23:00"), charge(120, 5))
    assert result.total_cost.excl_vat == D("3.00")  # 23-24 at 2.00, 00-01 at 1.00


def test_window_wrapping_midnight_morning_side() -> None:
    result = run(time_tariff(start_time="22:00", end_time="06:00"), local(f"{MONDAY} 05:00"), charge(120, 5))
    assert result.total_cost.excl_vat == D("3.00")  # 05-06 at 2.00, 06-07 at 1.00


def test_window_wrapping_midnight_across_midnight() -> None:
    result = run(time_tariff(start_time="22:00", end_time="06:00"), local(f"{MONDAY} 21:00"), charge(600, 5))
    assert result.total_cost.excl_vat == D("18.00")  # 21-22 1.00, 22-06 8x2.00, 06-07 1.00


def test_period_starting_exactly_on_the_boundary_gets_the_new_element() -> None:
    start = local(f"{MONDAY} 16:00")
    result = run(time_tariff(start_time="17:00"), start, charge(60, 5), charge(60, 5))
    assert [p.element_index for p in result.periods] == [1, 0]
    assert result.total_cost.excl_vat == D("3.00")


def test_boundary_inside_a_period_cuts_it_and_interpolates_energy() -> None:
    result = run(energy_tariff(start_time="17:00"), local(f"{MONDAY} 16:45"), charge(60, 8), park(30))
    assert [(p.start_date_time, p.source_index) for p in result.periods] == [
        (local(f"{MONDAY} 16:45"), 0),
        (local(f"{MONDAY} 17:00"), 0),
        (local(f"{MONDAY} 17:45"), 1),
    ]
    cdr_periods = result.to_ocpi()["charging_periods"]
    assert cdr_periods[0]["dimensions"][:2] == [
        {"type": "ENERGY", "volume": D("2.0000")},
        {"type": "TIME", "volume": D("0.2500")},
    ]
    assert cdr_periods[1]["dimensions"][0] == {"type": "ENERGY", "volume": D("6.0000")}
    assert result.total_cost.excl_vat == D("3.40")


def test_zero_length_period_is_priced_at_its_instant() -> None:
    start = local(f"{MONDAY} 10:00")
    periods = [ChargingPeriodIn(start, (Dimension("ENERGY", D(0)),))]
    data = tariff(element(("FLAT", "1.00"), start_time="10:00", end_time="11:00"), element(("FLAT", "3.00")))
    result = price(data, periods, end_date_time=start, time_zone=AMS)
    assert result.total_cost.excl_vat == D("1.00")
    assert len(result.periods) == 1


# --- dates and days ---------------------------------------------------------------------------------


def test_start_date_inclusive_end_date_exclusive_in_local_time() -> None:
    data = time_tariff(start_date="2024-05-07", end_date="2024-05-08")
    # Mon 23:00 -> Wed 01:00 local: only Tuesday (24 h) is at 2.00
    result = run(data, local(f"{MONDAY} 23:00"), charge(26 * 60, 5))
    assert result.total_cost.excl_vat == D("50.00")
    assert [p.start_date_time for p in result.periods] == [
        local(f"{MONDAY} 23:00"),
        local("2024-05-07 00:00"),
        local("2024-05-08 00:00"),
    ]


def test_day_of_week_uses_the_local_day_not_utc() -> None:
    data = time_tariff(day_of_week=["MONDAY"])
    # Sunday 23:30 UTC is Monday 01:30 in Amsterdam
    result = run(data, utc("2024-05-05 23:30"), charge(60, 5))
    assert result.total_cost.excl_vat == D("2.00")
    result = run(data, utc("2024-05-05 23:30"), charge(60, 5), tz="UTC")
    assert result.total_cost.excl_vat == D("1.50")


def test_time_of_day_in_the_location_zone() -> None:
    data = time_tariff(start_time="09:00", end_time="17:00")
    start = utc(f"{MONDAY} 12:00")
    assert run(data, start, charge(60, 5), tz=AMS).total_cost.excl_vat == D("2.00")  # 14:00 local
    assert run(data, start, charge(60, 5), tz="America/New_York").total_cost.excl_vat == D("1.00")  # 08:00 local


# --- DST in Europe/Amsterdam ---------------------------------------------------------------------


def test_dst_spring_forward_boundary_inside_the_gap() -> None:
    # 2024-03-31 02:00 CET -> 03:00 CEST at 01:00 UTC; 02:30 never happens: the rate starts at the jump
    result = run(time_tariff(start_time="02:30"), utc("2024-03-31 00:00"), charge(120, 5))
    assert result.total_cost.excl_vat == D("3.00")  # 00-01Z (01-02 CET) 1.00, 01-02Z (03-04 CEST) 2.00
    assert [p.start_date_time for p in result.periods] == [utc("2024-03-31 00:00"), utc("2024-03-31 01:00")]
    assert result.total_time == D(2)


def test_dst_spring_forward_window_ending_at_three() -> None:
    result = run(time_tariff(start_time="22:00", end_time="03:00"), utc("2024-03-30 23:00"), charge(180, 5))
    # 00:00-02:00 CET (2 h) at 2.00; then 03:00-04:00 CEST at 1.00
    assert result.total_cost.excl_vat == D("5.00")


def test_dst_fall_back_repeated_hour_is_priced_twice() -> None:
    # 2024-10-27 03:00 CEST -> 02:00 CET at 01:00 UTC: 02:00-03:00 local happens twice
    result = run(time_tariff(start_time="02:00", end_time="03:00"), utc("2024-10-26 23:00"), charge(240, 5))
    assert result.total_cost.excl_vat == D("6.00")  # 1 + 2 + 2 + 1
    assert [(p.start_date_time, p.element_index) for p in result.periods] == [
        (utc("2024-10-26 23:00"), 1),
        (utc("2024-10-27 00:00"), 0),
        (utc("2024-10-27 02:00"), 1),
    ]
    assert result.total_time == D(4)


def test_dst_durations_are_real_seconds() -> None:
    data = time_tariff(max_duration=3 * 3600)
    result = run(data, local("2024-10-27 01:00"), charge(240, 5))  # 4 real hours, 3 on the wall clock
    assert result.total_cost.excl_vat == D("7.00")


# --- energy, power, current, duration -------------------------------------------------------------


def test_min_kwh_inclusive() -> None:
    result = run(energy_tariff(min_kwh=10), local(f"{MONDAY} 10:00"), charge(30, 10), charge(30, 5))
    assert result.total_cost.excl_vat == D("2.00") + D("2.50")
    assert [p.element_index for p in result.periods] == [1, 0]


def test_max_kwh_exclusive_when_exactly_reached() -> None:
    result = run(energy_tariff(max_kwh=10), local(f"{MONDAY} 10:00"), charge(30, 10), charge(30, 5))
    assert result.total_cost.excl_vat == D("5.00") + D("1.00")


def test_kwh_bounds_while_parking_exactly_at_the_threshold() -> None:
    # parking after exactly 10 kWh: min_kwh 10 holds (inclusive), max_kwh 10 does not (exclusive)
    at_least = tariff(element(("PARKING_TIME", "6.00"), min_kwh=10), element(("PARKING_TIME", "1.00")))
    below = tariff(element(("PARKING_TIME", "6.00"), max_kwh=10), element(("PARKING_TIME", "1.00")))
    start = local(f"{MONDAY} 10:00")
    assert run(at_least, start, charge(30, 10), park(60)).total_parking_cost.excl_vat == D("6.00")
    assert run(below, start, charge(30, 10), park(60)).total_parking_cost.excl_vat == D("1.00")
    assert run(below, start, charge(30, "9.999"), park(60)).total_parking_cost.excl_vat == D("6.00")


def test_kwh_window_inside_one_period() -> None:
    result = run(energy_tariff(min_kwh=5, max_kwh=15), local(f"{MONDAY} 10:00"), charge(40, 20))
    assert result.total_cost.excl_vat == D("5.00") + D("2.00")
    assert [p.start_date_time for p in result.periods] == [
        local(f"{MONDAY} 10:00"),
        local(f"{MONDAY} 10:10"),
        local(f"{MONDAY} 10:30"),
    ]


def test_kwh_crossing_rounded_to_the_second_energy_exact() -> None:
    result = run(energy_tariff(max_kwh=1), local(f"{MONDAY} 10:00"), charge(7, 3))  # crossing at 140 s
    assert result.periods[1].start_date_time == local(f"{MONDAY} 10:02:20")
    assert result.total_cost.excl_vat == D("0.50") + D("0.40")
    result = run(energy_tariff(max_kwh=1), local(f"{MONDAY} 10:00"), charge(1, 7))  # crossing at 8.57 s
    assert result.periods[1].start_date_time == local(f"{MONDAY} 10:00:09")
    assert result.periods[0].dimensions[0].volume == D(1)


def test_min_and_max_power_bounds() -> None:
    data = tariff(element(("ENERGY", "0.50"), min_power=22, max_power=50), element(("ENERGY", "0.20")))
    start = local(f"{MONDAY} 10:00")
    assert run(data, start, charge(60, 10, max_power=22)).total_cost.excl_vat == D("5.00")  # inclusive
    assert run(data, start, charge(60, 10, max_power=50)).total_cost.excl_vat == D("2.00")  # exclusive
    assert run(data, start, charge(60, 10, max_power="21.9")).total_cost.excl_vat == D("2.00")


def test_power_prefers_measured_average_over_max() -> None:
    data = tariff(element(("ENERGY", "0.50"), max_power=16), element(("ENERGY", "0.20")))
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 10, power=10, max_power=20))
    assert result.total_cost.excl_vat == D("5.00")


def test_power_from_wall_time_and_energy_from_import_export() -> None:
    data = tariff(element(("ENERGY", "0.50"), max_power=16), element(("ENERGY", "0.20")))
    start = local(f"{MONDAY} 10:00")
    end = start + timedelta(hours=1)
    slow = [ChargingPeriodIn(start, (Dimension("ENERGY_IMPORT", D(11)), Dimension("ENERGY_EXPORT", D(1))))]
    result = price(data, slow, end_date_time=end, time_zone=AMS)
    assert result.total_energy == D(10)
    assert result.total_cost.excl_vat == D("5.00")  # 10 kW < 16 kW
    fast = [ChargingPeriodIn(start, (Dimension("ENERGY", D(20)),))]
    assert price(data, fast, end_date_time=end, time_zone=AMS).total_cost.excl_vat == D("4.00")


def test_unknown_current_fails_current_restrictions() -> None:
    data = tariff(element(("TIME", "2.00"), max_current=32), element(("TIME", "1.00")))
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 10))
    assert result.total_cost.excl_vat == D("1.00")
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 10, current=16))
    assert result.total_cost.excl_vat == D("2.00")


def test_min_current_inclusive_max_current_exclusive() -> None:
    data = tariff(element(("TIME", "2.00"), min_current=16, max_current=32), element(("TIME", "1.00")))
    start = local(f"{MONDAY} 10:00")
    assert run(data, start, charge(60, 5, max_current=16)).total_cost.excl_vat == D("2.00")
    assert run(data, start, charge(60, 5, max_current=32)).total_cost.excl_vat == D("1.00")


def test_parking_counts_as_zero_power() -> None:
    data = tariff(element(("PARKING_TIME", "3.00"), max_power=1), element(("PARKING_TIME", "6.00")))
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 20), park(60))
    assert result.total_parking_cost.excl_vat == D("3.00")


def test_min_duration_inclusive_max_duration_exclusive() -> None:
    data = tariff(
        element(("TIME", "3.00"), min_duration=1800, max_duration=3600),
        element(("TIME", "1.00")),
    )
    result = run(data, local(f"{MONDAY} 10:00"), charge(90, 5))
    assert result.total_cost.excl_vat == D("2.50")
    assert [p.start_date_time for p in result.periods] == [
        local(f"{MONDAY} 10:00"),
        local(f"{MONDAY} 10:30"),
        local(f"{MONDAY} 11:00"),
    ]


@pytest.mark.parametrize(("bound", "active"), [("min_duration", [False, True]), ("max_duration", [True, False])])
def test_duration_bounds_at_the_exact_second(bound: str, active: list[bool]) -> None:
    # the second period has zero length and starts exactly 3600 s after the session start
    data = tariff(element(("FLAT", "5.00"), **{bound: 3600}), element(("ENERGY", "0.10")))
    start = local(f"{MONDAY} 10:00")
    periods = [
        ChargingPeriodIn(start, (Dimension("ENERGY", D(0)),)),
        ChargingPeriodIn(start + timedelta(hours=1), (Dimension("ENERGY", D(0)),)),
    ]
    result = price(data, periods, end_date_time=start + timedelta(hours=1), time_zone=AMS)
    assert [p.components.get("FLAT") is not None for p in result.periods] == active
    assert result.total_fixed_cost.excl_vat == D("5.00")


def test_duration_counts_from_the_session_not_the_reservation() -> None:
    data = tariff(
        element(("TIME", "1.00"), ("FLAT", "0"), reservation="RESERVATION"),
        element(("TIME", "3.00"), max_duration=1800),
        element(("TIME", "1.00")),
    )
    result = run(data, local(f"{MONDAY} 09:00"), reserve(60), charge(60, 5))
    assert result.total_time_cost.excl_vat == D("2.00")  # 30 min at 3.00 + 30 min at 1.00
    assert result.total_reservation_cost.excl_vat == D("1.00")


def test_session_start_can_be_given() -> None:
    data = time_tariff(max_duration=1800)
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 5), session_start=local(f"{MONDAY} 09:45"))
    assert result.total_cost.excl_vat == D("1.25")


def test_restrictions_combine_with_and() -> None:
    data = time_tariff(start_time="09:00", end_time="17:00", day_of_week=["TUESDAY"], min_kwh=1)
    assert run(data, local(f"{MONDAY} 10:00"), charge(60, 5)).total_cost.excl_vat == D("1.00")
    result = run(data, local("2024-05-07 10:00"), charge(30, 1), charge(30, 1))
    assert result.total_cost.excl_vat == D("1.50")


# --- selection and reservation --------------------------------------------------------------------


def test_components_are_looked_up_per_dimension() -> None:
    data = tariff(
        element(("ENERGY", "0.30"), start_time="08:00", end_time="20:00"),
        element(("TIME", "1.00")),
        element(("ENERGY", "0.10"), ("TIME", "9.00")),
    )
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 10))
    assert result.periods[0].element_indices == {"ENERGY": 0, "TIME": 1}
    assert result.total_cost.excl_vat == D("4.00")


def test_no_matching_element_means_free() -> None:
    data = tariff(element(("ENERGY", "0.30"), day_of_week=["SUNDAY"]))
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 10))
    assert result.total_cost == Price(D(0), D(0))
    assert result.lines == ()


def test_reservation_elements_do_not_price_the_session() -> None:
    data = tariff(element(("TIME", "9.00"), reservation="RESERVATION"), element(("ENERGY", "0.25")))
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 20), reservation="RESERVATION")
    assert result.total_cost.excl_vat == D("5.00")


def test_reservation_fee_without_timed_reservation_period() -> None:
    data = example("tariff_16_reservation_2_euro_fee_5_euro_per_hour")
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 20), reservation=True)
    assert result.total_reservation_cost == Price(D("2.00"), D("2.40"))
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 20))
    assert "reservation" not in result.categories


def test_unknown_reservation_kind_rejected() -> None:
    with pytest.raises(ChargingDataError):
        run(example("tariff_15_reservation_5_euro_per_hour"), local(f"{MONDAY} 10:00"), charge(1, 1), reservation="X")


# --- FLAT -------------------------------------------------------------------------------------------


def test_each_distinct_flat_charged_once() -> None:
    data = tariff(
        element(("FLAT", "1.00"), ("ENERGY", "0.20"), start_time="08:00", end_time="18:00"),
        element(("FLAT", "2.00"), ("ENERGY", "0.10")),
    )
    result = run(data, local(f"{MONDAY} 17:00"), charge(60, 10), charge(60, 10), charge(60, 10))
    assert result.total_fixed_cost.excl_vat == D("3.00")
    # each FLAT is reported in the period where it first applies
    assert [period.cost.excl_vat for period in result.periods] == [D("3.00"), D("3.00"), D("1.00")]


def test_flat_with_parking_only_element_is_parking_cost() -> None:
    data = tariff(element(("ENERGY", "0.20")), element(("FLAT", "1.50"), ("PARKING_TIME", "2.00"), min_duration=3600))
    result = run(data, local(f"{MONDAY} 10:00"), charge(30, 10), park(60))
    assert result.total_parking_cost.excl_vat == D("1.50") + D("1.00")
    assert "fixed" not in result.categories


# --- step_size ----------------------------------------------------------------------------------------


def test_step_size_zero_means_no_rounding() -> None:
    data = tariff(element(("TIME", "3.60", 0)))
    result = run(data, local(f"{MONDAY} 10:00"), charge(0.5, 1))
    assert result.total_cost.excl_vat == D("0.03")


def test_energy_step_uses_the_last_energy_component() -> None:
    data = tariff(element(("ENERGY", "0.20", 1000), end_time="12:00"), element(("ENERGY", "0.40", 1)))
    result = run(data, local(f"{MONDAY} 11:00"), charge(60, "4.3"), charge(60, "1.1234"))
    assert line_of(result, 0, "ENERGY").billed_volume == D("4.3")
    assert line_of(result, 1, "ENERGY").billed_volume == D("1.124")


def test_energy_excess_goes_to_last_priced_period_not_to_parking() -> None:
    data = tariff(element(("ENERGY", "0.20", 500)))
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, "4.1"), park(30))
    assert [period.cost.excl_vat for period in result.periods] == [D("0.90"), D(0)]


def test_mixed_period_with_charging_and_parking_rounds_parking() -> None:
    start = local(f"{MONDAY} 10:00")
    periods = [ChargingPeriodIn(start, (Dimension("TIME", D("0.5")), Dimension("PARKING_TIME", D("0.1"))))]
    data = tariff(element(("TIME", "1.00", 600), ("PARKING_TIME", "6.00", 900)))
    result = price(data, periods, end_date_time=start + timedelta(minutes=36), time_zone=AMS)
    assert line_of(result, 0, "TIME").billed_seconds == D(1800)
    assert line_of(result, 0, "PARKING_TIME").billed_seconds == D(900)


# --- min/max price -----------------------------------------------------------------------------------


def test_price_limits_clamp_excl_and_incl_independently() -> None:
    data = tariff(
        element(("ENERGY", "1.00", 1, "0")),
        element(("TIME", "1.00", 1, "100"), max_duration=3600),
        min_price={"excl_vat": "5.00", "incl_vat": "7.00"},
    )
    # 3 kWh (no VAT) + 1 h of TIME at 100 % VAT = 4.00 excl / 5.00 incl -> both below the minimum
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 3))
    assert result.total_cost == Price(D("5.00"), D("7.00"))
    # 6 kWh + 1 h = 7.00 excl / 8.00 incl: above both
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 6))
    assert result.total_cost == Price(D("7.00"), D("8.00"))
    assert result.min_price_applied is False
    # 4.5 kWh + 1 h = 5.50 excl (above) / 6.50 incl (below): only incl clamped
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, "4.5"))
    assert result.total_cost == Price(D("5.50"), D("7.00"))


def test_price_limit_without_incl_vat_keeps_the_vat_ratio() -> None:
    data = example("tariff_8_simple_025kwh")
    data["max_price"] = {"excl_vat": 4}
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 20))
    assert result.total_cost == Price(D("4"), D("4.4"))
    data = example("tariff_8_simple_025kwh")
    data["min_price"] = {"excl_vat": 1}
    assert run(data, local(f"{MONDAY} 10:00"), charge(60, 2)).total_cost == Price(D(1), D("1.1"))


def test_vat_omitted_versus_zero_both_add_nothing() -> None:
    for vat in (None, "0"):
        data = tariff(element(("ENERGY", "0.25", 1, vat)))
        result = run(data, local(f"{MONDAY} 10:00"), charge(60, 10))
        assert result.total_cost == Price(D("2.50"), D("2.50"))


# --- input forms and validation -------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.25, "0.25", D("0.25")])
def test_price_numbers_in_any_form(value: object) -> None:
    data = tariff({"price_components": [{"type": "ENERGY", "price": value, "vat": 10, "step_size": 1}]})
    assert run(data, local(f"{MONDAY} 10:00"), charge(60, 20)).total_cost == Price(D("5.00"), D("5.50"))


def test_periods_from_ocpi_json_and_dicts_directly() -> None:
    raw = [
        {"start_date_time": "2024-05-06T08:00:00Z", "dimensions": [{"type": "ENERGY", "volume": 12.5}]},
        {"start_date_time": "2024-05-06T09:00:00.500Z", "dimensions": [{"type": "PARKING_TIME", "volume": 0.5}]},
    ]
    periods = periods_from_ocpi(raw)
    assert periods[0].volume("ENERGY") == D("12.5")
    assert periods[1].start_date_time == datetime.fromisoformat("2024-05-06T09:00:00.500+00:00")
    data = example("tariff_10_025kwh_parking_start")
    end = utc("2024-05-06 09:30:00.5")
    via_dicts = price(data, raw, end_date_time=end, time_zone=AMS)
    via_objects = price(data, periods, end_date_time=end, time_zone=AMS)
    assert via_dicts.total_cost == via_objects.total_cost == Price(D("4.625"), D("5.2375"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"elements": []}, "elements"),
        ({"currency": None}, "currency"),
        ({"elements": [{"price_components": [{"type": "KWH", "price": 1, "step_size": 1}]}]}, "type"),
        ({"elements": [{"price_components": [{"type": "ENERGY", "price": "x", "step_size": 1}]}]}, "price"),
        ({"elements": [{"price_components": [{"type": "ENERGY", "price": 1, "step_size": 1.5}]}]}, "step_size"),
        ({"elements": [{"price_components": [{"type": "ENERGY", "price": True, "step_size": 1}]}]}, "boolean"),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                        "restrictions": {"start_time": "24:00"},
                    }
                ]
            },
            "start_time",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                        "restrictions": {"end_date": "2024-02-30"},
                    }
                ]
            },
            "end_date",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                        "restrictions": {"day_of_week": ["MON"]},
                    }
                ]
            },
            "day_of_week",
        ),
        (
            {
                "elements": [
                    {
                        "price_components": [{"type": "ENERGY", "price": 1, "step_size": 1}],
                        "restrictions": {"reservation": "RESERVATION"},
                    }
                ]
            },
            "FLAT and TIME",
        ),
    ],
)
def test_invalid_tariffs_rejected(change: dict, message: str) -> None:
    data = {**example("tariff_8_simple_025kwh"), **change}
    with pytest.raises(TariffError, match=message):
        compile_tariff(data)


def test_invalid_charging_data_rejected() -> None:
    data = example("tariff_8_simple_025kwh")
    start = local(f"{MONDAY} 10:00")
    later = start + timedelta(hours=1)
    with pytest.raises(ChargingDataError, match="time order"):
        price(data, [ChargingPeriodIn(later, ()), ChargingPeriodIn(start, ())], end_date_time=later, time_zone=AMS)
    with pytest.raises(ChargingDataError, match="time order"):
        price(data, [ChargingPeriodIn(later, ())], end_date_time=start, time_zone=AMS)
    with pytest.raises(ChargingDataError, match="aware"):
        ChargingPeriodIn(datetime(2024, 5, 6, 10, 0), ())
    with pytest.raises(ChargingDataError, match="time zone"):
        price(data, [ChargingPeriodIn(start, ())], end_date_time=later, time_zone="Mars/Olympus")
    with pytest.raises(ChargingDataError, match="at least one"):
        price(data, [], end_date_time=later, time_zone=AMS)
    with pytest.raises(ChargingDataError, match="negative"):
        price(data, [ChargingPeriodIn(start, (Dimension("TIME", D(-1)),))], end_date_time=later, time_zone=AMS)
    with pytest.raises(ChargingDataError, match="CdrDimensionType"):
        Dimension("FLAT", D(1))
    with pytest.raises(ChargingDataError, match="required"):
        price(data, [ChargingPeriodIn(start, ())])


# --- output ----------------------------------------------------------------------------------------


def test_to_ocpi_cdr_fields() -> None:
    data = example("tariff_10_025kwh_parking_start")
    periods = [
        ChargingPeriodIn(
            utc("2024-05-06 08:00"),
            (Dimension("ENERGY", D("10.00005")), Dimension("TIME", D(1)), Dimension("POWER", D(10))),
        ),
        ChargingPeriodIn(utc("2024-05-06 09:00"), (Dimension("PARKING_TIME", D("0.25")),)),
    ]
    result = price(data, periods, end_date_time=utc("2024-05-06 09:15"), time_zone=AMS)
    cdr = result.to_ocpi()
    assert cdr == {
        "start_date_time": "2024-05-06T08:00:00Z",
        "end_date_time": "2024-05-06T09:15:00Z",
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2024-05-06T08:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": D("10.0001")}, {"type": "TIME", "volume": D("1.0000")}],
                "tariff_id": "18",
            },
            {
                "start_date_time": "2024-05-06T09:00:00Z",
                "dimensions": [{"type": "PARKING_TIME", "volume": D("0.2500")}],
                "tariff_id": "18",
            },
        ],
        # 0.50 + 10.001 kWh (step 1 Wh) x 0.25 + 0.25 h x 2.00 = 3.50025 -> 3.5003 (half-up)
        "total_cost": {"excl_vat": D("3.5003"), "incl_vat": D("3.9503")},
        "total_energy": D("10.0001"),
        "total_time": D("1.2500"),
        "total_parking_time": D("0.2500"),
        "total_fixed_cost": {"excl_vat": D("0.5000"), "incl_vat": D("0.6000")},
        "total_energy_cost": {"excl_vat": D("2.5003"), "incl_vat": D("2.7503")},
        "total_parking_cost": {"excl_vat": D("0.5000"), "incl_vat": D("0.6000")},
    }
    assert result.periods[0].to_ocpi(include_session_dimensions=True)["dimensions"][-1] == {
        "type": "POWER",
        "volume": D("10.0000"),
    }


def test_priced_periods_carry_tariff_and_elements() -> None:
    result = run(example("tariff_14_step_size"), local(f"{MONDAY} 16:55"), charge(10, 2), park(2))
    assert [(p.tariff_id, p.element_indices) for p in result.periods] == [
        ("22", {"TIME": 0}),
        ("22", {"TIME": 1}),
        ("22", {"PARKING_TIME": 1}),
    ]


# --- helpers ---------------------------------------------------------------------------------------


def test_simple_session_layout() -> None:
    periods = simple_session(datetime(2024, 5, 6, 10, 0), "22", 90, 15, max_power_kw=22, reservation_minutes=10)
    assert [p.start_date_time for p in periods] == [
        local(f"{MONDAY} 09:50"),
        local(f"{MONDAY} 10:00"),
        local(f"{MONDAY} 11:30"),
    ]
    assert periods.end_date_time == local(f"{MONDAY} 11:45")
    assert periods[1].volume("ENERGY") == D(22)
    assert periods[1].volume("TIME") == D("1.5")
    assert periods[1].volume("MAX_POWER") == D(22)
    assert periods[2].volume("PARKING_TIME") == D("0.25")
    assert simple_session(local(f"{MONDAY} 10:00"), 10, 60)[0].volume("MAX_POWER") == D(10)
    with pytest.raises(ChargingDataError):
        simple_session(local(f"{MONDAY} 10:00"), 10, 0)


def test_select_tariff_by_type_and_validity() -> None:
    old = {**example("tariff_8_simple_025kwh"), "id": "old", "end_date_time": "2024-01-01T00:00:00Z"}
    regular = {**example("tariff_8_simple_025kwh"), "id": "reg", "type": "REGULAR"}
    adhoc = {**example("tariff_2_alt_text"), "id": "adhoc"}
    untyped = {**example("tariff_9_025kwh_start"), "id": "any"}
    at = utc("2024-05-06 10:00")
    assert tariff_is_active(old, utc("2023-12-31 23:59")) is True
    assert tariff_is_active(old, utc("2024-01-01 00:00")) is False
    assert select_tariff([old, adhoc, regular, untyped], at=at)["id"] == "reg"
    assert select_tariff([old, adhoc, regular, untyped], at=at, tariff_type="AD_HOC_PAYMENT")["id"] == "adhoc"
    assert select_tariff([old, adhoc, regular, untyped], at=at, tariff_type="PROFILE_GREEN")["id"] == "any"
    assert select_tariff([old, adhoc], at=at) is None


def test_compiled_tariff_reuse_gives_same_result() -> None:
    compiled = compile_tariff(example("tariff_4_complex"))
    first = run(compiled, local(f"{MONDAY} 09:30"), charge(165, 10, max_current=16), park(42))
    second = run(example("tariff_4_complex"), local(f"{MONDAY} 09:30"), charge(165, 10, max_current=16), park(42))
    assert first == second
