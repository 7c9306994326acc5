"""The plain-language price summary (tariffs/summary.py) on the specification's tariff examples and edge cases."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tariffs.services import demo_tariffs_ocpi
from tariffs.summary import (
    format_days,
    format_duration,
    format_price,
    restrictions_text,
    tariff_summary,
    tariff_summary_safe,
)
from tests.examples import load_example

SPEC_EXAMPLES = [
    ("tariff_1_simple_2hour.json", "2.00 EUR/h charging; excl. 10% VAT"),
    ("tariff_2_alt_text.json", "1.90 EUR/h charging; excl. 5.2% VAT"),
    (
        "tariff_3_alt_url.json",
        "0.50 EUR per session, 0.25 EUR/kWh; excl. VAT (20% on session fee, 10% on energy)",
    ),
    (
        "tariff_4_complex.json",
        "2.50 EUR per session, 1.00 EUR/h charging below 32 A, 2.00 EUR/h charging on weekdays from 32 A, "
        "1.25 EUR/h charging on weekends from 32 A, parking 5.00 EUR/h 09:00-18:00 on weekdays, "
        "parking 6.00 EUR/h 10:00-17:00 on Saturday; "
        "excl. VAT (15% on session fee, 20% on charging time, 10% on parking)",
    ),
    ("tariff_5_free_of_charge.json", "Free of charge"),
    (
        "tariff_6_025kwh_start_max_price.json",
        "0.50 EUR per session, 0.25 EUR/kWh; maximum 10.00 EUR per session; "
        "excl. VAT (20% on session fee, 10% on energy)",
    ),
    ("tariff_8_simple_025kwh.json", "0.25 EUR/kWh; excl. 10% VAT"),
    (
        "tariff_10_025kwh_parking_start.json",
        "0.50 EUR per session, 0.25 EUR/kWh, parking 2.00 EUR/h; "
        "excl. VAT (20% on session fee and parking, 10% on energy)",
    ),
    ("tariff_12_025kwh_min_price.json", "0.25 EUR/kWh; minimum 0.50 EUR per session; excl. 10% VAT"),
    (
        "tariff_13_simple_3hour_5parking.json",
        "3.00 EUR/h charging, parking 5.00 EUR/h; excl. VAT (10% on charging time, 20% on parking)",
    ),
    (
        # No vat on any component: no VAT note.
        "tariff_14_step_size.json",
        "1.20 EUR/h charging 00:00-17:00, 2.40 EUR/h charging 17:00-20:00, 2.40 EUR/h charging 20:00-00:00, "
        "parking 1.00 EUR/h 00:00-17:00, parking 1.00 EUR/h 17:00-20:00",
    ),
    (
        "tariff_15_reservation_5_euro_per_hour.json",
        "reservation 5.00 EUR/h, 0.50 EUR per session, 0.25 EUR/kWh; "
        "excl. VAT (20% on reservation and session fee, 10% on energy)",
    ),
    (
        "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json",
        "2.00 EUR per reservation, reservation 5.00 EUR/h, 0.50 EUR per session, 0.25 EUR/kWh; "
        "excl. VAT (20% on reservation and session fee, 10% on energy)",
    ),
    (
        "tariff_17_reservation_with_expire_fee.json",
        "4.00 EUR if the reservation expires, reservation 2.00 EUR/h, 0.50 EUR per session, 0.25 EUR/kWh; "
        "excl. VAT (20% on expired reservation, reservation and session fee, 10% on energy)",
    ),
    (
        "tariffrestriction_example_max_power.json",
        "0.20 EUR/kWh below 16 kW, 0.35 EUR/kWh below 32 kW, 0.50 EUR/kWh otherwise; excl. 20% VAT",
    ),
    (
        "tariffrestriction_example_max_duration.json",
        "0.00 EUR/kWh for the first 30 min, 0.25 EUR/kWh for the first 1 h, 0.40 EUR/kWh otherwise; excl. 20% VAT",
    ),
]


@pytest.mark.parametrize(("name", "expected"), SPEC_EXAMPLES)
def test_tariff_summary_words_the_spec_examples(name: str, expected: str) -> None:
    assert tariff_summary(load_example(name)) == expected


def test_tariff_summary_of_the_demo_time_of_day_tariff() -> None:
    _, dc = demo_tariffs_ocpi(country_code="NL", party_id="EXA")

    assert tariff_summary(dc) == (
        "0.59 EUR/kWh 07:00-23:00, 0.45 EUR/kWh 23:00-07:00, parking 6.00 EUR/h; excl. 21% VAT"
    )


def _tariff(*elements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"currency": "EUR", "elements": list(elements), **extra}


def _energy(price: str, vat: str | None = "21", **restrictions: Any) -> dict[str, Any]:
    component: dict[str, Any] = {"type": "ENERGY", "price": Decimal(price), "step_size": 1}
    if vat is not None:
        component["vat"] = Decimal(vat)
    element: dict[str, Any] = {"price_components": [component]}
    if restrictions:
        element["restrictions"] = restrictions
    return element


def test_tariff_summary_says_otherwise_for_the_fallback_and_drops_shadowed_components() -> None:
    tariff = _tariff(
        _energy("0.59", start_time="07:00", end_time="23:00"),
        _energy("0.45"),
        _energy("0.10", day_of_week=["SUNDAY"]),  # never applies: the unrestricted 0.45 comes first
        {"price_components": [{"type": "PARKING_TIME", "price": Decimal("6"), "vat": Decimal(21), "step_size": 60}]},
    )

    assert (
        tariff_summary(tariff) == "0.59 EUR/kWh 07:00-23:00, 0.45 EUR/kWh otherwise, parking 6.00 EUR/h; excl. 21% VAT"
    )


def test_tariff_summary_flat_and_time_wording() -> None:
    tariff = _tariff(
        {
            "price_components": [
                {"type": "FLAT", "price": Decimal("1"), "vat": Decimal(21), "step_size": 1},
                {"type": "TIME", "price": Decimal("2.4"), "vat": Decimal(21), "step_size": 60},
            ]
        }
    )

    assert tariff_summary(tariff) == "1.00 EUR per session, 2.40 EUR/h charging; excl. 21% VAT"


def test_tariff_summary_vat_notes() -> None:
    no_vat = _tariff(_energy("0.30", vat=None))
    mixed = _tariff(_energy("0.30", vat="21", max_power=11), _energy("0.40", vat=None))
    included = _tariff(_energy("0.30", vat=None), tax_included="YES")

    assert tariff_summary(no_vat) == "0.30 EUR/kWh"
    assert tariff_summary(mixed) == "0.30 EUR/kWh below 11 kW, 0.40 EUR/kWh otherwise; excl. VAT (21%/no VAT on energy)"
    assert tariff_summary(included) == "0.30 EUR/kWh; incl. taxes"


@pytest.mark.parametrize(
    ("restrictions", "expected"),
    [
        ({}, ""),
        ({"start_time": "07:00"}, "from 07:00"),
        ({"end_time": "07:00"}, "until 07:00"),
        ({"day_of_week": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"]}, "on weekdays"),
        ({"day_of_week": ["SUNDAY", "SATURDAY"]}, "on weekends"),
        ({"start_date": "2025-01-01", "end_date": "2025-07-01"}, "from 2025-01-01 before 2025-07-01"),
        ({"min_kwh": Decimal("20")}, "after 20 kWh"),
        ({"max_kwh": Decimal("20.50")}, "for the first 20.5 kWh"),
        ({"min_kwh": 10, "max_kwh": 20}, "from 10 to 20 kWh charged"),
        ({"min_power": Decimal("50.0")}, "from 50 kW"),
        ({"min_power": 11, "max_power": 22}, "at 11-22 kW"),
        ({"max_current": 16}, "below 16 A"),
        ({"min_duration": 1800}, "after 30 min"),
        ({"max_duration": 5400}, "for the first 1 h 30 min"),
        ({"min_duration": 90, "max_duration": 3600}, "from 1 min 30 s to 1 h into the session"),
        (
            {"start_time": "18:00", "end_time": "22:00", "day_of_week": ["FRIDAY"], "min_power": 50},
            "18:00-22:00 on Friday from 50 kW",
        ),
    ],
)
def test_restrictions_text(restrictions: dict[str, Any], expected: str) -> None:
    assert restrictions_text(restrictions) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([], ""),
        (["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"], ""),
        (["WEDNESDAY", "MONDAY"], "on Mon, Wed"),
        (["MONDAY", "TUESDAY", "WEDNESDAY", "FRIDAY"], "on Mon-Wed, Fri"),
        (["SATURDAY"], "on Saturday"),
    ],
)
def test_format_days(days: list[str], expected: str) -> None:
    assert format_days(days) == expected


def test_number_formats() -> None:
    assert [format_price(v) for v in (Decimal("0.5"), 2, Decimal("0.255"), Decimal("0.350000"))] == [
        "0.50",
        "2.00",
        "0.255",
        "0.35",
    ]
    assert [format_duration(s) for s in (0, 45, 60, 3600, 3660)] == ["0 s", "45 s", "1 min", "1 h", "1 h 1 min"]


def test_tariff_summary_min_price_and_all_free() -> None:
    free_with_minimum = _tariff(_energy("0", vat=None), min_price={"excl_vat": Decimal("1.5")})

    assert tariff_summary(free_with_minimum) == "0.00 EUR/kWh; minimum 1.50 EUR per session"
    assert tariff_summary(_tariff()) == ""


def test_tariff_summary_safe_does_not_fail_on_broken_data() -> None:
    assert (
        tariff_summary_safe(_tariff({"price_components": [{"type": "ENERGY"}]})) == "(cannot summarise these elements)"
    )
