"""Canonical Tariff serializer: every spec example validates, stores and round-trips; strict inbound checks."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tariffs.api.serializers import TariffSerializer, tariff_to_ocpi
from tariffs.models import Tariff, TariffElement
from tariffs.selectors import tariff_get
from tariffs.services import tariff_create, tariff_seed_demo

from .factories import EXAMPLES, example, tariff_body, validated

# tariff_put_example.json lacks last_updated (spec-issues F6): the only example that is not a valid Tariff.
VALID_EXAMPLES = sorted(
    path.name
    for path in [*EXAMPLES.glob("tariff_*.json"), *EXAMPLES.glob("tariffrestriction_*.json")]
    if path.name != "tariff_put_example.json"
)


def errors_of(body: dict[str, Any]) -> dict[str, Any]:
    serializer = TariffSerializer(data=body)
    assert not serializer.is_valid()
    return serializer.errors


def test_examples_are_all_found() -> None:
    assert len(VALID_EXAMPLES) == 19  # tariff_1..18 without 7, plus the two restriction examples


@pytest.mark.django_db
@pytest.mark.parametrize("name", VALID_EXAMPLES)
def test_tariff_example_validates_stores_and_round_trips(name: str) -> None:
    body = example(name)
    data = validated(body)

    tariff = tariff_create(data=data, last_updated=data["last_updated"])

    stored = tariff_get(pk=tariff.pk)
    out = TariffSerializer(stored).data
    assert json.loads(json.dumps(out)) == body
    assert tariff_to_ocpi(stored) == out


def test_tariff_put_example_is_rejected_naming_last_updated() -> None:
    errors = errors_of(example("tariff_put_example.json"))
    assert set(errors) == {"last_updated"}


@pytest.mark.django_db
def test_tariff_to_ocpi_equals_serializer_for_a_full_tariff_and_keeps_key_order() -> None:
    body = tariff_body(
        "FULL",
        type="PROFILE_GREEN",
        tariff_alt_text=[{"language": "en", "text": "Green power"}],
        tariff_alt_url="https://example.com/tariffs/full",
        min_price={"excl_vat": 1.5, "incl_vat": 1.815},
        max_price={"excl_vat": 40},
        start_date_time="2024-01-01T00:00:00Z",
        end_date_time="2025-01-01T00:00:00.5Z",
        energy_mix={
            "is_green_energy": True,
            "energy_sources": [{"source": "WIND", "percentage": 60}, {"source": "SOLAR", "percentage": 40.0}],
            "environ_impact": [{"category": "CARBON_DIOXIDE", "amount": 0}],
            "supplier_name": "Wind & Co",
            "energy_product_name": "Breeze",
        },
        elements=[
            {
                "price_components": [{"type": "TIME", "price": 1.2345, "step_size": 60}],
                "restrictions": {
                    "start_time": "22:00",
                    "end_time": "06:00",
                    "start_date": "2024-01-01",
                    "end_date": "2024-12-31",
                    "min_kwh": 0.5,
                    "max_kwh": 100,
                    "min_current": 6,
                    "max_current": 32.5,
                    "min_power": 1.1,
                    "max_power": 350,
                    "min_duration": 0,
                    "max_duration": 7200,
                    "day_of_week": ["MONDAY", "SUNDAY"],
                },
            },
            {
                "price_components": [{"type": "TIME", "price": 5, "step_size": 60}],
                "restrictions": {"reservation": "RESERVATION"},
            },
            {"price_components": [{"type": "FLAT", "price": 0, "vat": 0.0, "step_size": 1}], "restrictions": {}},
        ],
    )
    tariff = tariff_create(data=validated(body), last_updated=validated(body)["last_updated"])

    stored = tariff_get(pk=tariff.pk)
    out = TariffSerializer(stored).data
    fast = tariff_to_ocpi(stored)
    assert fast == out
    assert json.dumps(fast) == json.dumps(dict(out))  # same key order, same number types
    assert json.loads(json.dumps(out)) == body
    assert out["elements"][2]["price_components"][0]["vat"] == 0  # 0 % VAT is not "no VAT"
    assert "vat" not in out["elements"][1]["price_components"][0]


@pytest.mark.django_db
def test_tariff_to_ocpi_equals_serializer_for_demo_tariffs(django_assert_num_queries: Any) -> None:
    tariffs = tariff_seed_demo(country_code="NL", party_id="EXA")
    for tariff in tariffs:
        with django_assert_num_queries(0):
            fast = tariff_to_ocpi(tariff)
        assert fast == TariffSerializer(tariff).data


@pytest.mark.django_db
def test_json_numbers_are_read_back_as_decimal() -> None:
    tariff = tariff_create(data=validated(example("tariff_3_alt_url.json")))
    element = TariffElement.objects.get(tariff=tariff)
    energy = element.price_components[1]
    assert energy["price"] == Decimal("0.25")
    assert isinstance(energy["price"], Decimal)
    assert energy["step_size"] == 100
    assert isinstance(energy["step_size"], int)
    assert Tariff.objects.get(pk=tariff.pk).tariff_alt_url == "https://company.com/tariffs/13"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": 12}, "id"),
        ({"country_code": 49}, "country_code"),
        ({"party_id": "ALLX"}, "party_id"),
        ({"id": "x" * 37}, "id"),
        ({"currency": "eur"}, "currency"),
        ({"currency": 978}, "currency"),
        ({"type": "CHEAP"}, "type"),
        ({"tariff_alt_text": [{"language": "english", "text": "x"}]}, "tariff_alt_text"),
        ({"tariff_alt_text": [{"language": "en", "text": 5}]}, "tariff_alt_text"),
        ({"tariff_alt_url": "not a url"}, "tariff_alt_url"),
        ({"min_price": {"incl_vat": 1}}, "min_price"),
        ({"max_price": {"excl_vat": "10.00"}}, "max_price"),
        ({"max_price": {"excl_vat": -1}}, "max_price"),
        ({"elements": []}, "elements"),
        ({"elements": None}, "elements"),
        ({"start_date_time": "2024-01-01T00:00:00+02:00"}, "start_date_time"),
        ({"last_updated": "yesterday"}, "last_updated"),
        ({"energy_mix": {"energy_sources": []}}, "energy_mix"),
        ({"energy_mix": {"is_green_energy": "yes"}}, "energy_mix"),
        (
            {"energy_mix": {"is_green_energy": True, "energy_sources": [{"source": "SUN", "percentage": 1}]}},
            "energy_mix",
        ),
    ],
)
def test_tariff_serializer_rejects_bad_fields_naming_them(change: dict[str, Any], field: str) -> None:
    errors = errors_of(tariff_body(**change))
    assert set(errors) == {field}


def _element_errors(element: dict[str, Any]) -> dict[str, Any]:
    errors = errors_of(tariff_body(elements=[element]))
    assert set(errors) == {"elements"}
    return errors["elements"][0]


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ({"type": "ENERGY", "price": "0.25", "step_size": 1}, "price"),
        ({"type": "ENERGY", "price": -0.25, "step_size": 1}, "price"),
        ({"type": "ENERGY", "price": 0.25, "vat": -1, "step_size": 1}, "vat"),
        ({"type": "ENERGY", "price": 0.25, "vat": "21", "step_size": 1}, "vat"),
        ({"type": "ENERGY", "price": 0.25, "step_size": 1.5}, "step_size"),
        ({"type": "ENERGY", "price": 0.25, "step_size": "1"}, "step_size"),
        ({"type": "ENERGY", "price": 0.25, "step_size": 0}, "step_size"),
        ({"type": "TIME", "price": 0.25, "step_size": -60}, "step_size"),
        ({"type": "ENERGY", "price": 0.25}, "step_size"),
        ({"type": "KWH", "price": 0.25, "step_size": 1}, "type"),
        ({"type": "energy", "price": 0.25, "step_size": 1}, "type"),
    ],
)
def test_price_component_rejects_bad_values(component: dict[str, Any], field: str) -> None:
    errors = _element_errors({"price_components": [component]})
    assert set(errors) == {"price_components"}
    assert set(errors["price_components"][0]) == {field}


def test_flat_component_accepts_step_size_zero() -> None:
    body = tariff_body(elements=[{"price_components": [{"type": "FLAT", "price": 0, "step_size": 0}]}])
    assert validated(body)["elements"][0]["price_components"][0]["step_size"] == 0


@pytest.mark.parametrize(
    ("restrictions", "field"),
    [
        ({"start_time": "24:00"}, "start_time"),
        ({"start_time": "7:00"}, "start_time"),
        ({"end_time": "07:60"}, "end_time"),
        ({"end_time": 700}, "end_time"),
        ({"start_date": "2019-02-30"}, "start_date"),
        ({"start_date": "2019-2-3"}, "start_date"),
        ({"end_date": "0999-01-01"}, "end_date"),
        ({"min_kwh": -1}, "min_kwh"),
        ({"max_kwh": "10"}, "max_kwh"),
        ({"min_current": True}, "min_current"),
        ({"max_power": -0.1}, "max_power"),
        ({"min_duration": 1.5}, "min_duration"),
        ({"max_duration": -1}, "max_duration"),
        ({"day_of_week": ["MONDAY", "FUNDAY"]}, "day_of_week"),
        ({"day_of_week": "MONDAY"}, "day_of_week"),
        ({"reservation": "EXPIRED"}, "reservation"),
    ],
)
def test_restrictions_reject_bad_values(restrictions: dict[str, Any], field: str) -> None:
    errors = _element_errors(
        {"price_components": [{"type": "TIME", "price": 1, "step_size": 1}], "restrictions": restrictions}
    )
    assert set(errors) == {"restrictions"}
    assert set(errors["restrictions"]) == {field}


def test_restrictions_accept_a_window_wrapping_midnight_and_until_end_of_day() -> None:
    for start, end in (("22:00", "06:00"), ("20:00", "00:00"), ("00:00", "23:59")):
        element = {"price_components": [{"type": "TIME", "price": 1, "step_size": 1}]}
        element["restrictions"] = {"start_time": start, "end_time": end}
        assert validated(tariff_body(elements=[element]))["elements"][0]["restrictions"]["end_time"] == end


def test_reservation_element_only_takes_flat_and_time() -> None:
    element = {
        "price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}],
        "restrictions": {"reservation": "RESERVATION"},
    }
    errors = _element_errors(element)
    assert "price_components" in errors
    assert "ENERGY" in str(errors["price_components"])


def test_element_without_price_components_is_rejected() -> None:
    assert set(_element_errors({"price_components": []})) == {"price_components"}
    assert set(_element_errors({"restrictions": {"max_power": 16}})) == {"price_components"}


def test_unknown_fields_are_ignored_and_optional_nulls_accepted() -> None:
    body = tariff_body(
        unknown="x",
        type=None,
        tariff_alt_text=None,
        min_price=None,
        energy_mix=None,
        end_date_time=None,
        elements=[
            {
                "price_components": [{"type": "ENERGY", "price": 0.25, "vat": None, "step_size": 1, "extra": 1}],
                "restrictions": None,
                "extra": True,
            }
        ],
    )
    data = validated(body)
    assert "unknown" not in data
    out = TariffSerializer(data).data
    assert out["elements"] == [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}]
    assert "type" not in out
    assert "tariff_alt_text" not in out
