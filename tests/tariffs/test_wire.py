"""Tariffs wire converters (tariffs/wire.py): OCPI 2.1.1 and 2.3.0 Tariffs <-> 2.2.1.

(a) hand-written Tariffs of each version (from that version's field tables) convert into 2.2.1 that
TariffSerializer accepts; (b) what tariff_to_ocpi serves converts out into objects the version's pydantic models
accept; (c) version -> 2.2.1 -> version keeps every field both carry; (d) fragments add no field.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ocpi_platform.ocpi.wire import V211, V230, WireContext, from_wire, registered, to_wire
from tariffs.api.serializers import TariffSerializer, tariff_to_ocpi
from tests.system.ocpi_schema.v211 import tariffs as v211
from tests.system.ocpi_schema.v230 import tariffs as v230

from .factories import make_tariff

CTX = WireContext(country_code="FI", party_id="EXC")
PATCH = WireContext(partial=True)
T = "2024-03-01T10:00:00Z"

# --- OCPI 2.1.1 (mod_tariffs.md 3.1, 4) -----------------------------------------------------------------------

TARIFF_211 = {
    "id": "TARIFF-211",
    "currency": "EUR",
    "tariff_alt_text": [{"language": "en", "text": "0.30/kWh, parking after 2 hours"}],
    "tariff_alt_url": "https://charging.example.com/tariffs/211",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 1.5, "step_size": 1}]},
        {
            "price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 100}],
            "restrictions": {"min_power": 22, "day_of_week": ["SATURDAY", "SUNDAY"]},
        },
        {
            "price_components": [{"type": "PARKING_TIME", "price": 4, "step_size": 300}],
            "restrictions": {
                "start_time": "18:00",
                "end_time": "24:00",  # 2.1.1's [0-2][0-9] allows it: end of day
                "start_date": "2024-01-01",
                "end_date": "2025-01-01",
                "min_kwh": 0,
                "max_kwh": 80.5,
                "min_duration": 7200,
                "max_duration": 36000,
                "max_power": 350,
            },
        },
        {"price_components": [{"type": "TIME", "price": 2, "step_size": 60}]},
    ],
    "energy_mix": {
        "is_green_energy": False,
        "energy_sources": [{"source": "SOLAR", "percentage": 100}],
        "environ_impact": [{"source": "CARBON_DIOXIDE", "amount": 0}],
    },
    "last_updated": T,
}
TARIFF_211_MIN = {
    "id": "FREE",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "FLAT", "price": 0, "step_size": 0}]}],
    "last_updated": T,
}

# --- OCPI 2.3.0 (mod_tariffs.asciidoc: Tariff object, PriceLimit, TaxIncluded) --------------------------------

TARIFF_230 = {
    "country_code": "DE",
    "party_id": "EXC",
    "id": "TARIFF-230",
    "currency": "EUR",
    "type": "AD_HOC_PAYMENT",
    "tariff_alt_text": [{"language": "de", "text": "0,59 EUR/kWh"}],
    "tariff_alt_url": "https://charging.example.com/tariffs/230",
    "min_price": {"before_taxes": 2, "after_taxes": 2.38},
    "max_price": {"before_taxes": 50},
    "elements": [
        {
            "price_components": [{"type": "TIME", "price": 6, "vat": 19, "step_size": 60}],
            "restrictions": {"reservation": "RESERVATION"},
        },
        {
            "price_components": [{"type": "ENERGY", "price": 0.59, "vat": 19, "step_size": 1}],
            "restrictions": {"min_current": 32, "max_current": 500, "start_time": "22:00", "end_time": "06:00"},
        },
        {"price_components": [{"type": "ENERGY", "price": 0.49, "vat": 19, "step_size": 1}]},
    ],
    "tax_included": "NO",
    "start_date_time": "2024-01-01T00:00:00Z",
    "end_date_time": "2025-01-01T00:00:00Z",
    "energy_mix": {"is_green_energy": True},
    "last_updated": T,
}
TARIFF_230_MIN = {
    "country_code": "US",
    "party_id": "EXC",
    "id": "US-1",
    "currency": "USD",
    "elements": [{"price_components": [{"type": "TIME", "price": 2.1, "step_size": 60}]}],
    "tax_included": "YES",  # North American taxes: no vat known, included in the price
    "last_updated": T,
}


def _into(data: dict[str, Any], version: str, ctx: WireContext = CTX) -> dict[str, Any]:
    before = copy.deepcopy(data)
    converted = from_wire("Tariff", data, version, ctx)
    assert data == before
    return converted


def _out(data: dict[str, Any], version: str, ctx: WireContext | None = None) -> dict[str, Any]:
    before = copy.deepcopy(data)
    converted = to_wire("Tariff", data, version, ctx)
    assert data == before
    return converted


def _valid(data: dict[str, Any]) -> dict[str, Any]:
    serializer = TariffSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    return serializer.validated_data


def test_register_wire_registers_tariff_for_both_versions() -> None:
    assert registered("Tariff", V211)
    assert registered("Tariff", V230)


# --- (a) into 2.2.1 -------------------------------------------------------------------------------------------


def test_tariff_from_211_full_is_valid_221() -> None:
    data = _into(TARIFF_211, V211)

    validated = _valid(data)
    assert (data["country_code"], data["party_id"]) == ("FI", "EXC")
    assert data["elements"][2]["restrictions"]["end_time"] == "00:00"
    assert data["elements"][2]["restrictions"]["start_time"] == "18:00"
    assert data["energy_mix"]["environ_impact"] == [{"category": "CARBON_DIOXIDE", "amount": 0}]
    assert [len(element["price_components"]) for element in validated["elements"]] == [1, 1, 1, 1]
    assert "vat" not in data["elements"][1]["price_components"][0]  # 2.1.1 says nothing about VAT


def test_tariff_from_211_minimal_is_valid_221() -> None:
    data = _into(TARIFF_211_MIN, V211)

    assert data == {"country_code": "FI", "party_id": "EXC", **TARIFF_211_MIN}
    _valid(data)


def test_tariff_from_230_full_maps_price_limits_and_keeps_tax_included() -> None:
    data = _into(TARIFF_230, V230)

    validated = _valid(data)
    assert data["tax_included"] == validated["tax_included"] == "NO"
    assert data["min_price"] == {"excl_vat": 2, "incl_vat": 2.38}
    assert data["max_price"] == {"excl_vat": 50}
    assert data["elements"] == TARIFF_230["elements"]  # "NO": prices already exclude taxes
    assert validated["elements"][0]["restrictions"]["reservation"] == "RESERVATION"


def test_tariff_from_230_tax_included_prices_become_excl_vat() -> None:
    body = {
        **TARIFF_230_MIN,
        "elements": [
            {"price_components": [{"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1}]},
            {"price_components": [{"type": "FLAT", "price": 1.19, "vat": 19, "step_size": 1}]},
        ],
    }

    data = _into(body, V230)

    _valid(data)
    assert data["tax_included"] == "NO"  # the stored prices now exclude VAT: YES would misstate them
    assert data["elements"][0]["price_components"][0] == {
        "type": "ENERGY",
        "price": 0.247934,
        "vat": 21,
        "step_size": 1,
    }
    assert data["elements"][1]["price_components"][0]["price"] == 1  # 1.19 / 1.19


def test_tariff_from_230_drops_impacts_of_an_unknown_category() -> None:
    mix = {"is_green_energy": False, "environ_impact": [{"category": "METHANE", "amount": 3}]}

    data = _into({**TARIFF_230, "energy_mix": mix}, V230)

    _valid(data)
    assert data["energy_mix"] == {"is_green_energy": False, "environ_impact": []}


def test_tariff_from_230_minimal_tax_included_without_vat_keeps_the_price() -> None:
    data = _into(TARIFF_230_MIN, V230)

    assert data == TARIFF_230_MIN  # YES kept: the price includes taxes of an unknown rate
    _valid(data)


# --- (b) what our 2.2.1 code produces, out ------------------------------------------------------------------------


def _rich_tariff() -> Any:
    return make_tariff(
        "RICH",
        type="REGULAR",
        min_price={"excl_vat": 1, "incl_vat": 1.21},
        max_price={"excl_vat": 40, "incl_vat": 48.4},
        start_date_time="2024-01-01T00:00:00Z",
        end_date_time="2030-01-01T00:00:00Z",
        tariff_alt_text=[{"language": "en", "text": "Standard"}],
        energy_mix={"is_green_energy": False, "environ_impact": [{"category": "NUCLEAR_WASTE", "amount": 0.001}]},
        elements=[
            {
                "price_components": [{"type": "FLAT", "price": 2, "vat": 21, "step_size": 1}],
                "restrictions": {"reservation": "RESERVATION_EXPIRES"},
            },
            {
                "price_components": [{"type": "ENERGY", "price": 0.4, "vat": 21, "step_size": 1}],
                "restrictions": {"max_current": 16},
            },
            {
                "price_components": [{"type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1}],
                "restrictions": {"min_kwh": 10, "start_time": "08:00", "end_time": "20:00", "day_of_week": ["MONDAY"]},
            },
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1},
                    {"type": "PARKING_TIME", "price": 3, "vat": 21, "step_size": 300},
                ]
            },
        ],
    )


@pytest.mark.django_db
def test_tariff_out_211_validates_against_the_211_model() -> None:
    served = tariff_to_ocpi(_rich_tariff())

    data = _out(served, V211)

    v211.Tariff.model_validate(data)
    for absent in ("country_code", "party_id", "type", "min_price", "max_price", "start_date_time", "end_date_time"):
        assert absent not in data
    # The reservation and max_current elements cannot be said in 2.1.1: dropped, the others kept in order.
    assert data["elements"] == [
        {
            "price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}],
            "restrictions": {"start_time": "08:00", "end_time": "20:00", "min_kwh": 10, "day_of_week": ["MONDAY"]},
        },
        {
            "price_components": [
                {"type": "ENERGY", "price": 0.3, "step_size": 1},
                {"type": "PARKING_TIME", "price": 3, "step_size": 300},
            ]
        },
    ]
    assert data["energy_mix"]["environ_impact"] == [{"source": "NUCLEAR_WASTE", "amount": 0.001}]


@pytest.mark.django_db
def test_tariff_out_211_keeps_elements_when_all_are_beyond_211() -> None:
    served = tariff_to_ocpi(
        make_tariff(
            "CURRENT",
            elements=[
                {
                    "price_components": [{"type": "TIME", "price": 1, "step_size": 60}],
                    "restrictions": {"min_current": 32, "max_duration": 600},
                }
            ],
        )
    )

    data = _out(served, V211)

    v211.Tariff.model_validate(data)
    assert data["elements"] == [
        {"price_components": [{"type": "TIME", "price": 1, "step_size": 60}], "restrictions": {"max_duration": 600}}
    ]


@pytest.mark.django_db
def test_tariff_out_230_validates_against_the_230_model() -> None:
    served = tariff_to_ocpi(_rich_tariff())

    data = _out(served, V230)

    v230.Tariff.model_validate(data)
    assert data["tax_included"] == "NO"  # 2.2.1 prices exclude VAT, and the components have one
    assert data["min_price"] == {"before_taxes": 1, "after_taxes": 1.21}
    assert data["max_price"] == {"before_taxes": 40, "after_taxes": 48.4}
    assert {key: value for key, value in data.items() if key not in ("min_price", "max_price", "tax_included")} == {
        key: value for key, value in served.items() if key not in ("min_price", "max_price")
    }


@pytest.mark.django_db
def test_tariff_out_230_without_vat_is_tax_not_applicable() -> None:
    served = tariff_to_ocpi(
        make_tariff("NOVAT", elements=[{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}])
    )

    data = _out(served, V230)

    v230.Tariff.model_validate(data)
    assert data["tax_included"] == "N/A"
    v211.Tariff.model_validate(_out(served, V211))


# --- (c) round trips ------------------------------------------------------------------------------------------


def test_tariff_211_round_trip_keeps_what_both_carry() -> None:
    back = to_wire("Tariff", from_wire("Tariff", TARIFF_211, V211, CTX), V211)

    expected = copy.deepcopy(TARIFF_211)
    expected["elements"][2]["restrictions"]["end_time"] = "00:00"  # the 2.2.1 spelling of "end of day"
    assert back == expected
    assert to_wire("Tariff", from_wire("Tariff", TARIFF_211_MIN, V211, CTX), V211) == TARIFF_211_MIN


def test_tariff_230_round_trip_is_identity_when_taxes_are_excluded() -> None:
    back = to_wire("Tariff", from_wire("Tariff", TARIFF_230, V230, CTX), V230)

    assert back == TARIFF_230


def test_tariff_230_round_trip_of_tax_included_prices() -> None:
    """YES without any vat is kept as sent; YES with a vat: the prices come back excl. VAT under NO (what the
    stored prices are)."""
    back = to_wire("Tariff", from_wire("Tariff", TARIFF_230_MIN, V230, CTX), V230)
    assert back == TARIFF_230_MIN

    with_vat = {
        **TARIFF_230_MIN,
        "elements": [{"price_components": [{"type": "TIME", "price": 2.42, "vat": 21, "step_size": 60}]}],
    }
    back = to_wire("Tariff", from_wire("Tariff", with_vat, V230, CTX), V230)
    assert back == {
        **TARIFF_230_MIN,
        "elements": [{"price_components": [{"type": "TIME", "price": 2, "vat": 21, "step_size": 60}]}],
        "tax_included": "NO",
    }


@pytest.mark.django_db
def test_our_tariff_221_round_trip_through_230_and_211() -> None:
    served = tariff_to_ocpi(_rich_tariff())
    ctx = WireContext(country_code="NL", party_id="EXA")

    assert from_wire("Tariff", to_wire("Tariff", served, V230), V230, ctx) == {**served, "tax_included": "NO"}
    plain = tariff_to_ocpi(make_tariff("PLAIN", tariff_alt_url="https://example.com/t"))
    assert from_wire("Tariff", to_wire("Tariff", plain, V211), V211, ctx) == {
        key: value for key, value in plain.items() if key != "elements"
    } | {"elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}]}  # vat lost


# --- (d) fragments (2.1.1 still had a Tariffs PATCH) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "fragment", "expected"),
    [
        (V211, {"tariff_alt_url": "https://example.com/t", "last_updated": T}, None),
        (V211, {"energy_mix": {"is_green_energy": True, "environ_impact": []}}, None),
        (
            V211,
            {"elements": [{"price_components": [{"type": "TIME", "price": 1, "step_size": 1}]}], "last_updated": T},
            None,
        ),
        (
            V230,
            {"max_price": {"before_taxes": 9}, "last_updated": T},
            {"max_price": {"excl_vat": 9}, "last_updated": T},
        ),
        (V230, {"tax_included": "NO", "last_updated": T}, None),
    ],
)
def test_fragment_into_221_adds_no_field(version: str, fragment: dict[str, Any], expected: Any) -> None:
    data = _into(fragment, version, PATCH)

    assert data == (fragment if expected is None else expected)
    assert TariffSerializer(data=data, partial=True).is_valid()


@pytest.mark.parametrize(
    ("version", "fragment", "expected"),
    [
        (V211, {"type": "REGULAR", "currency": "EUR", "last_updated": T}, {"currency": "EUR", "last_updated": T}),
        (
            V230,
            {"min_price": {"excl_vat": 1}, "last_updated": T},
            {"min_price": {"before_taxes": 1}, "last_updated": T},
        ),
        (V230, {"currency": "EUR"}, {"currency": "EUR"}),  # no tax_included added to a fragment
    ],
)
def test_fragment_out_adds_no_field(version: str, fragment: dict[str, Any], expected: dict[str, Any]) -> None:
    assert _out(fragment, version, PATCH) == expected
