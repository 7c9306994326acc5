"""Tariff engine against every worked example of tariffs.md §5.6 (E1-E18, O1-O4), the spec's
example tariffs, cdrs.md §6 step_size examples and the spec's CDR example. Exact Decimal amounts."""

from __future__ import annotations

from decimal import ROUND_HALF_UP

import pytest

from tariffs.engine import Price, periods_from_ocpi, price, simple_session
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
SATURDAY = "2024-05-11"


def cents(value: D) -> D:
    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


# --- E1-E9: simple tariffs -------------------------------------------------------------------


def test_e1_energy_with_vat() -> None:
    result = run(example("tariff_8_simple_025kwh"), local(f"{MONDAY} 10:00"), charge(60, 20))
    assert result.total_cost == Price(D("5.00"), D("5.50"))
    assert result.total_energy_cost == Price(D("5.00"), D("5.50"))
    assert result.total_energy == D(20)


def test_e2_start_fee_added_once_with_its_own_vat() -> None:
    start = local(f"{MONDAY} 10:00")
    result = run(example("tariff_9_025kwh_start"), start, charge(20, 5), charge(20, 10), charge(20, 5))
    assert result.total_cost == Price(D("5.50"), D("6.10"))
    assert result.total_fixed_cost == Price(D("0.50"), D("0.60"))
    assert result.total_energy_cost == Price(D("5.00"), D("5.50"))
    assert [line.category for line in result.lines] == ["fixed", "energy"]


@pytest.mark.parametrize(
    ("kwh", "expected", "applied"),
    [
        ("20", Price(D("5.00"), D("5.50")), False),
        ("1", Price(D("0.50"), D("0.55")), True),
        ("2", Price(D("0.50"), D("0.55")), False),  # exactly the minimum
        ("0", Price(D("0.50"), D("0.55")), True),
    ],
)
def test_e3_min_price(kwh: str, expected: Price, applied: bool) -> None:
    result = run(example("tariff_12_025kwh_min_price"), local(f"{MONDAY} 10:00"), charge(30, kwh))
    assert result.total_cost == expected
    assert result.min_price_applied is applied
    assert result.total_energy_cost == Price(D(kwh) * D("0.25"), D(kwh) * D("0.275"))  # breakdown unclamped


def test_e4_start_energy_and_parking_step_900() -> None:
    result = run(example("tariff_10_025kwh_parking_start"), local(f"{MONDAY} 10:00"), charge(60, 20), park(40))
    assert result.total_cost == Price(D("7.00"), D("7.90"))
    assert result.total_fixed_cost == Price(D("0.50"), D("0.60"))
    assert result.total_energy_cost == Price(D("5.00"), D("5.50"))
    assert result.total_parking_cost == Price(D("1.50"), D("1.80"))
    parking = line_of(result, 0, "PARKING_TIME")
    assert parking.billed_seconds == D(2700)
    assert parking.metered_volume * 60 == D(40)


@pytest.mark.parametrize(
    ("kwh", "expected", "capped"),
    [("50", Price(D("10.00"), D("11.00")), True), ("30", Price(D("8.00"), D("8.85")), False)],
)
def test_e5_max_price(kwh: str, expected: Price, capped: bool) -> None:
    result = run(example("tariff_6_025kwh_start_max_price"), local(f"{MONDAY} 10:00"), charge(90, kwh))
    assert result.total_cost == expected
    assert result.max_price_applied is capped
    if capped:
        assert result.cost_before_limits == Price(D("13.00"), D("14.35"))


def test_e6_charging_time_only_parking_not_billed() -> None:
    result = run(example("tariff_1_simple_2hour"), local(f"{MONDAY} 10:00"), charge(150, 30), park(45))
    assert result.total_cost == Price(D("5.00"), D("5.50"))
    assert result.total_time == D("3.25")
    assert result.total_parking_time == D("0.75")
    assert "parking" not in result.categories
    assert "total_parking_cost" not in result.to_ocpi()


def test_e6_time_rounded_up_to_the_minute() -> None:
    result = run(example("tariff_1_simple_2hour"), local(f"{MONDAY} 10:00"), charge(149.5, 30))
    assert line_of(result, 0, "TIME").billed_seconds == D(9000)
    assert result.total_cost == Price(D("5.00"), D("5.50"))


def test_e7_charging_not_rounded_parking_rounded() -> None:
    result = run(example("tariff_13_simple_3hour_5parking"), local(f"{MONDAY} 10:00"), charge(150, 30), park(42))
    assert result.total_time_cost == Price(D("7.50"), D("8.25"))
    assert result.total_parking_cost == Price(D("3.75"), D("4.50"))
    assert result.total_cost == Price(D("11.25"), D("12.75"))


def test_e8_ad_hoc_time_tariff() -> None:
    result = run(example("tariff_2_alt_text"), local(f"{MONDAY} 10:00"), charge(150, 10))
    assert result.total_cost == Price(D("4.75"), D("4.997"))
    assert cents(result.total_cost.incl_vat) == D("5.00")


def test_e9_energy_step_100_wh() -> None:
    result = run(example("tariff_3_alt_url"), local(f"{MONDAY} 10:00"), charge(60, "20.45"))
    energy = line_of(result, 0, "ENERGY")
    assert energy.metered_volume == D("20.45")
    assert energy.billed_volume == D("20.5")
    assert result.total_energy_cost == Price(D("5.125"), D("5.6375"))
    assert result.total_cost == Price(D("5.625"), D("6.2375"))
    # the spec's figures are these, rounded half-up to cents
    assert [cents(v) for v in (D("5.125"), D("5.6375"), D("5.625"), D("6.2375"))] == [
        D("5.13"),
        D("5.64"),
        D("5.63"),
        D("6.24"),
    ]
    assert result.to_ocpi()["total_cost"] == {"excl_vat": D("5.6250"), "incl_vat": D("6.2375")}


# --- E10: complex tariff ---------------------------------------------------------------------


def test_e10_monday_low_current() -> None:
    result = run(
        example("tariff_4_complex"),
        local(f"{MONDAY} 09:30"),
        charge(165, 10, max_current=16),
        park(42),
    )
    assert result.total_fixed_cost == Price(D("2.50"), D("2.875"))
    assert result.total_time_cost == Price(D("2.75"), D("3.30"))
    assert result.total_parking_cost == Price(D("3.75"), D("4.125"))
    assert result.total_cost == Price(D("9.00"), D("10.30"))
    assert line_of(result, 1, "TIME").billed_seconds == D(165 * 60)  # followed by paid parking: not rounded


def test_e10_saturday_high_current_corrected_figures() -> None:
    result = run(
        example("tariff_4_complex"),
        local(f"{SATURDAY} 13:30"),
        charge(114, 40, min_current=43),
        park(71),
    )
    assert result.total_time_cost == Price(D("2.375"), D("2.85"))
    assert result.total_parking_cost == Price(D("7.50"), D("8.25"))
    assert result.total_cost == Price(D("12.375"), D("13.975"))
    assert line_of(result, 3, "TIME").component.price == D("1.25")


def test_e10_exactly_32_amps_is_the_high_current_rate() -> None:
    result = run(example("tariff_4_complex"), local(f"{MONDAY} 09:30"), charge(60, 20, max_current=32))
    assert line_of(result, 2, "TIME").cost == Price(D("2.00"), D("2.40"))


def test_e10_sunday_parking_is_free() -> None:
    result = run(example("tariff_4_complex"), local("2024-05-12 09:30"), charge(60, 5, max_current=16), park(42))
    assert "parking" not in result.categories
    # the last paid time period is now the charging: 60 min is a multiple of 900 s
    assert result.total_cost == Price(D("3.50"), D("4.075"))


# --- E11: step_size across elements (tariff_14, corrected erratum figures) --------------------


def test_e11_switch_at_17_then_short_parking() -> None:
    result = run(example("tariff_14_step_size"), local(f"{MONDAY} 16:55"), charge(10, 2), park(2))
    assert line_of(result, 0, "TIME").cost.excl_vat == D("0.10")
    assert line_of(result, 1, "TIME").cost.excl_vat == D("0.20")
    assert line_of(result, 1, "PARKING_TIME").billed_seconds == D(900)
    assert result.total_cost == Price(D("0.55"), D("0.55"))


def test_e11_charging_rounded_with_last_step_excess_at_last_price() -> None:
    result = run(example("tariff_14_step_size"), local(f"{MONDAY} 16:35"), charge(35, 5))
    assert line_of(result, 0, "TIME").billed_seconds == D(25 * 60)
    assert line_of(result, 1, "TIME").billed_seconds == D(20 * 60)
    assert result.total_cost == Price(D("1.30"), D("1.30"))


def test_e11_free_last_parking_uses_last_paid_step() -> None:
    result = run(example("tariff_14_step_size"), local(f"{MONDAY} 19:40"), charge(12, 2), park(20))
    assert line_of(result, 1, "TIME").cost.excl_vat == D("0.48")
    parking = line_of(result, 1, "PARKING_TIME")
    assert parking.metered_volume * 60 == D(8)
    assert parking.billed_seconds == D(900)
    assert result.total_cost == Price(D("0.73"), D("0.73"))
    # no VAT anywhere in this tariff: incl = excl (omitted vat = no VAT applicable)


# --- E12/E13: restriction examples ------------------------------------------------------------


def test_e12_max_power_bands() -> None:
    result = run(
        example("tariffrestriction_example_max_power"),
        local(f"{MONDAY} 10:00"),
        charge(10, 1, power=6),
        charge(50, 40, power=48),
        charge(7.5, "0.5", power=4),
    )
    assert [line.cost.excl_vat for line in result.lines] == [D("0.20") + D("0.10"), D("20.00")]
    assert result.total_cost == Price(D("20.30"), D("24.36"))


def test_e12_power_derived_from_energy_and_time_when_not_measured() -> None:
    result = run(
        example("tariffrestriction_example_max_power"),
        local(f"{MONDAY} 10:00"),
        charge(10, 1),
        charge(50, 40),
        charge(7.5, "0.5"),
    )
    assert result.total_cost == Price(D("20.30"), D("24.36"))


def test_e13_max_duration_blocks() -> None:
    result = run(
        example("tariffrestriction_example_max_duration"), local(f"{MONDAY} 10:00"), charge(30, 5), charge(10, "1.2")
    )
    assert result.total_cost == Price(D("0.30"), D("0.36"))
    assert line_of(result, 0, "ENERGY").metered_volume == D(5)


def test_e13_one_linear_period_is_cut_at_1800_s() -> None:
    # 6.2 kWh linear over 40 min: 4.65 kWh before the 30th minute, 1.55 kWh after
    result = run(example("tariffrestriction_example_max_duration"), local(f"{MONDAY} 10:00"), charge(40, "6.2"))
    assert line_of(result, 1, "ENERGY").metered_volume == D("1.55")
    assert result.total_cost.excl_vat == D("0.3875")
    assert [p.start_date_time for p in result.periods] == [local(f"{MONDAY} 10:00"), local(f"{MONDAY} 10:30")]


# --- E14-E17: reservations ----------------------------------------------------------------------


def test_e14_reservation_time_then_charging() -> None:
    result = run(
        example("tariff_15_reservation_5_euro_per_hour"),
        local(f"{MONDAY} 09:45"),
        reserve(15),
        charge(60, 20),
        reservation="RESERVATION",
    )
    assert result.total_reservation_cost == Price(D("1.25"), D("1.50"))
    assert result.total_fixed_cost == Price(D("0.50"), D("0.60"))
    assert result.total_cost == Price(D("6.75"), D("7.60"))
    assert result.total_reservation_time == D("0.25")
    assert result.total_time == D(1)  # the session proper; reservation time is reported apart


def test_e15_reservation_fee_and_rounded_time() -> None:
    result = run(
        example("tariff_16_reservation_2_euro_fee_5_euro_per_hour"),
        local(f"{MONDAY} 09:47"),
        reserve(13),
        charge(60, 20),
    )  # reservation inferred from the RESERVATION_TIME period
    assert line_of(result, 0, "TIME").billed_seconds == D(900)
    assert result.total_reservation_cost == Price(D("3.25"), D("3.90"))
    assert result.total_fixed_cost == Price(D("0.50"), D("0.60"))
    assert result.total_cost == Price(D("8.75"), D("10.00"))


def test_e16_reservation_used_no_expiry_fee() -> None:
    result = run(
        example("tariff_17_reservation_with_expire_fee"),
        local(f"{MONDAY} 09:38"),
        reserve(22),
        charge(60, 20),
        reservation="RESERVATION",
    )
    assert result.total_cost == Price(D("6.50"), D("7.30"))
    assert result.total_reservation_cost == Price(D("1.00"), D("1.20"))


def test_e16_reservation_expired() -> None:
    result = run(
        example("tariff_17_reservation_with_expire_fee"),
        local(f"{MONDAY} 09:00"),
        reserve(60),
        reservation="RESERVATION_EXPIRES",
    )
    assert result.total_cost == Price(D("6.00"), D("7.20"))
    assert result.total_reservation_cost == Price(D("6.00"), D("7.20"))
    assert "fixed" not in result.categories  # the regular start fee is not charged
    assert result.total_time == D(1)


def test_e17_reservation_used_regular_rate() -> None:
    result = run(
        example("tariff_18_reservation_with_expire_time"),
        local(f"{MONDAY} 09:38"),
        reserve(22),
        charge(60, 20),
        reservation="RESERVATION",
    )
    assert result.total_cost == Price(D("7.00"), D("7.90"))


def test_e17_reservation_expired_uses_expiry_rate() -> None:
    result = run(
        example("tariff_18_reservation_with_expire_time"),
        local(f"{MONDAY} 09:00"),
        reserve(90),
        reservation="RESERVATION_EXPIRES",
    )
    assert result.total_cost == Price(D("9.00"), D("10.80"))


def test_e17_expiry_rate_wins_whatever_the_element_order() -> None:
    data = example("tariff_18_reservation_with_expire_time")
    data["elements"][0], data["elements"][1] = data["elements"][1], data["elements"][0]
    result = run(data, local(f"{MONDAY} 09:00"), reserve(90), reservation="RESERVATION_EXPIRES")
    assert result.total_cost == Price(D("9.00"), D("10.80"))


# --- E18: step_size arithmetic ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "billed_kwh", "cost"),
    [(1, "0.116", "0.029"), (25, "0.125", "0.03125"), (500, "0.5", "0.125")],
)
def test_e18_energy_step_size(step: int, billed_kwh: str, cost: str) -> None:
    data = tariff(element(("ENERGY", "0.25", step)))
    result = run(data, local(f"{MONDAY} 10:00"), charge(5, "0.1152"))
    assert line_of(result, 0, "ENERGY").billed_volume == D(billed_kwh)
    assert result.total_cost == Price(D(cost), D(cost))


# --- O1-O4: our restriction examples ----------------------------------------------------------

NIGHT = tariff(element(("ENERGY", "0.20"), start_time="22:00", end_time="06:00"), element(("ENERGY", "0.30")))


@pytest.mark.parametrize("day", ["2024-07-10", "2024-01-10"])
def test_o1_night_window_with_periods_cut_by_the_cpo(day: str) -> None:
    result = run(NIGHT, local(f"{day} 21:30"), charge(30, 4), charge(60, 6))
    assert result.total_cost.excl_vat == D("2.40")


@pytest.mark.parametrize(("day", "cut_utc"), [("2024-07-10", "20:00"), ("2024-01-10", "21:00")])
def test_o1_engine_cuts_at_local_22h(day: str, cut_utc: str) -> None:
    result = run(NIGHT, local(f"{day} 21:30"), charge(90, 9))
    assert result.total_cost.excl_vat == D("2.10")  # 3 kWh x 0.30 + 6 kWh x 0.20
    assert [p.start_date_time for p in result.periods] == [local(f"{day} 21:30"), utc(f"{day} {cut_utc}")]
    assert [p.element_index for p in result.periods] == [1, 0]
    assert [p.dimensions[0].volume for p in result.periods] == [D(3), D(6)]


def test_o2_energy_blocks_max_kwh() -> None:
    data = tariff(element(("ENERGY", "0.35"), max_kwh=10), element(("ENERGY", "0.25")))
    result = run(data, local(f"{MONDAY} 10:00"), charge(60, 25))
    assert result.total_cost.excl_vat == D("7.25")
    assert [p.start_date_time for p in result.periods] == [local(f"{MONDAY} 10:00"), local(f"{MONDAY} 10:24")]
    assert [p.dimensions[0].volume for p in result.periods] == [D(10), D(15)]


def test_o3_idle_fee_after_three_hours_of_session() -> None:
    data = tariff(element(("PARKING_TIME", "6.00", 60), min_duration=10800), element(("ENERGY", "0.30")))
    result = run(data, local(f"{MONDAY} 10:00"), charge(120, 30), park(90))
    assert result.total_energy_cost.excl_vat == D("9.00")
    assert line_of(result, 0, "PARKING_TIME").billed_seconds == D(1800)
    assert result.total_cost.excl_vat == D("12.00")


def test_o4_weekend_rate_from_local_midnight() -> None:
    data = tariff(element(("TIME", "1.50"), day_of_week=["SATURDAY", "SUNDAY"]), element(("TIME", "1.00")))
    result = run(data, local("2024-05-10 23:30"), charge(60, 10))
    assert result.total_cost.excl_vat == D("1.25")
    assert [p.start_date_time for p in result.periods] == [local("2024-05-10 23:30"), local("2024-05-11 00:00")]


# --- the other spec example tariffs -------------------------------------------------------------


def test_tariff_5_free_of_charge() -> None:
    result = run(example("tariff_5_free_of_charge"), local(f"{MONDAY} 10:00"), charge(60, 20), park(30))
    assert result.total_cost == Price(D(0), D(0))
    assert result.to_ocpi()["total_fixed_cost"] == {"excl_vat": D("0.0000"), "incl_vat": D("0.0000")}


def test_tariff_11_flat_and_time() -> None:
    result = run(example("tariff_11_not_possible_alt_text"), local(f"{MONDAY} 10:00"), charge(150, 20))
    assert result.total_cost == Price(D("5.15"), D("5.497"))


def test_tariff_put_example_prices_the_spec_cdr_example() -> None:
    cdr = example("cdr_example")
    periods = periods_from_ocpi(cdr["charging_periods"])
    result = price(
        example("tariff_put_example"),
        periods,
        end_date_time=utc("2015-06-29 23:37:32"),
        time_zone="Europe/Brussels",
    )
    assert line_of(result, 0, "TIME").billed_seconds == D(7200)  # 1.973 h -> 7200 s (step 300)
    assert result.to_ocpi()["total_cost"] == {"excl_vat": D("4.0000"), "incl_vat": D("4.4000")}
    assert result.to_ocpi()["total_time_cost"] == {"excl_vat": D("4.0000"), "incl_vat": D("4.4000")}


def test_simple_session_prices_like_explicit_periods() -> None:
    periods = simple_session(local(f"{MONDAY} 10:00"), 20, 60, 40)
    result = price(example("tariff_10_025kwh_parking_start"), periods)
    assert result.total_cost == Price(D("7.00"), D("7.90"))


# --- cdrs.md §6 step_size rules ------------------------------------------------------------------


def test_cdr_rule_5_energy_excess_at_last_price() -> None:
    data = tariff(
        element(("ENERGY", "0.20", 500), end_time="17:00"),
        element(("ENERGY", "0.27", 500), start_time="17:00"),
    )
    result = run(data, local(f"{MONDAY} 16:00"), charge(60, "4.3"), charge(20, "1.1"))
    assert line_of(result, 0, "ENERGY").billed_volume == D("4.3")
    assert line_of(result, 1, "ENERGY").billed_volume == D("1.2")
    assert result.total_cost.excl_vat == D("1.184")


def test_cdr_rule_5_time_excess_at_last_price() -> None:
    data = tariff(
        element(("TIME", "5.00", 600), end_time="17:00"),
        element(("TIME", "7.00", 600), start_time="17:00"),
    )
    result = run(data, local(f"{MONDAY} 16:54"), charge(28, 5))
    assert line_of(result, 0, "TIME").billed_seconds == D(360)
    assert line_of(result, 1, "TIME").billed_seconds == D(1440)
    assert result.total_cost.excl_vat == D("3.30")


def test_cdr_rule_2_no_rounding_at_charging_to_parking_switch() -> None:
    data = tariff(element(("TIME", "1.00", 300), ("PARKING_TIME", "2.00", 300)))
    result = run(data, local(f"{MONDAY} 10:00"), charge(21, 3), park(7))
    assert line_of(result, 0, "TIME").billed_seconds == D(21 * 60)
    assert line_of(result, 0, "PARKING_TIME").billed_seconds == D(600)


def test_cdr_rule_6_only_parking_total_is_rounded() -> None:
    data = tariff(element(("TIME", "1.00", 600), ("PARKING_TIME", "2.00", 600)))
    result = run(data, local(f"{MONDAY} 10:00"), charge(21, 3), park(16))
    assert line_of(result, 0, "TIME").billed_seconds == D(21 * 60)
    assert line_of(result, 0, "PARKING_TIME").billed_seconds == D(1200)
    assert result.to_ocpi()["total_cost"]["excl_vat"] == D("1.0167")  # 0.35 + 0.6666..


@pytest.mark.parametrize("tz", [AMS, "America/New_York"])
def test_results_do_not_depend_on_an_unrestricted_tariff_zone(tz: str) -> None:
    result = run(example("tariff_13_simple_3hour_5parking"), local(f"{MONDAY} 10:00"), charge(150, 30), park(42), tz=tz)
    assert result.total_cost == Price(D("11.25"), D("12.75"))
