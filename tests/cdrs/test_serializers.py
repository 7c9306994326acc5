"""The canonical CDR serializer: the spec example validates and round-trips; strict types name the field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from cdrs.api.serializers import CdrSerializer, cdr_to_ocpi
from cdrs.models import Cdr
from cdrs.services import _columns
from tests.examples import load_example


def validated(body: dict[str, Any]) -> dict[str, Any]:
    serializer = CdrSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    return serializer.validated_data


def errors(body: dict[str, Any]) -> dict[str, Any]:
    serializer = CdrSerializer(data=body)
    assert not serializer.is_valid()
    return serializer.errors


def as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def test_cdr_example_validates_into_model_columns() -> None:
    # spec-issues E4: swapped coordinates, last_updated before end_date_time, total_energy without ENERGY
    # dimension: all valid OCPI types, so the example validates as is.
    data = validated(load_example("cdr_example.json"))

    assert data["ocpi_id"] == "12345"
    assert data["total_cost_excl_vat"] == Decimal("4.00")
    assert data["total_cost_incl_vat"] == Decimal("4.40")
    assert data["total_time_cost_excl_vat"] == Decimal("4.00")
    assert "total_energy_cost_excl_vat" not in data
    assert data["cdr_location"]["coordinates"] == {"latitude": "3.729944", "longitude": "51.047599"}
    assert data["tariffs"][0]["id"] == "12"
    assert data["charging_periods"][0]["dimensions"] == [{"type": "TIME", "volume": 1.973}]


def test_cdr_example_round_trips_through_the_model() -> None:
    example = load_example("cdr_example.json")
    cdr = Cdr(**_columns(validated(example)))

    assert as_json(cdr_to_ocpi(cdr)) == example
    assert as_json(CdrSerializer(cdr).data) == example


def test_cdr_all_optional_fields_round_trip() -> None:
    example = load_example("cdr_example.json")
    example.update(
        session_id="S1",
        authorization_reference="AUTH1",
        meter_id="M1",
        signed_data={
            "encoding_method": "OCMF",
            "encoding_method_version": 1,
            "public_key": "KEY",
            "signed_values": [{"nature": "Start", "plain_data": "p", "signed_data": "s"}],
            "url": "https://example.com/verify",
        },
        total_fixed_cost={"excl_vat": 0.5},
        total_energy_cost={"excl_vat": 1.25, "incl_vat": 1.5},
        total_parking_time=0.25,
        total_parking_cost={"excl_vat": 0, "incl_vat": 0},
        total_reservation_cost={"excl_vat": 1, "incl_vat": 1.21},
        remark="Stopped by driver",
        invoice_reference_id="INV-1",
        credit=True,
        credit_reference_id="12344",
        home_charging_compensation=False,
    )
    example["total_cost"] = {"excl_vat": -4.0, "incl_vat": -4.4}
    cdr = Cdr(**_columns(validated(example)))

    assert as_json(cdr_to_ocpi(cdr)) == example


def test_cdr_unknown_fields_are_ignored() -> None:
    body = load_example("cdr_example.json")
    body["vendor_extension"] = {"x": 1}
    body["cdr_location"]["parking_spot"] = "12"

    data = validated(body)

    assert "vendor_extension" not in data
    assert "parking_spot" not in data["cdr_location"]


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("id",), 12345, "id"),
        (("total_energy",), "15.342", "total_energy"),
        (("total_cost", "excl_vat"), "4.00", "total_cost"),
        (("cdr_token", "uid"), 12345678, "cdr_token"),
        (("cdr_location", "address"), "x" * 46, "cdr_location"),
        (("cdr_location", "state"), "x" * 21, "cdr_location"),
        (("auth_method",), "PIN", "auth_method"),
        (("credit",), "true", "credit"),
        (("start_date_time",), "29-06-2015 21:39", "start_date_time"),
        (("currency",), "eur", "currency"),
        (("charging_periods",), [], "charging_periods"),
    ],
)
def test_cdr_wrong_type_names_the_field(path: tuple[str, ...], value: Any, field: str) -> None:
    body = load_example("cdr_example.json")
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    assert field in errors(body)


@pytest.mark.parametrize("field", ["country_code", "cdr_token", "cdr_location", "total_cost", "last_updated"])
def test_cdr_missing_required_field_is_named(field: str) -> None:
    body = load_example("cdr_example.json")
    del body[field]

    assert field in errors(body)


def test_cdr_nested_error_names_the_nested_field() -> None:
    body = load_example("cdr_example.json")
    body["charging_periods"][0]["dimensions"][0]["type"] = "FLAT"  # removed in 2.2

    assert "dimensions" in str(errors(body)["charging_periods"])


def test_cdr_credit_needs_credit_reference_id() -> None:
    body = load_example("cdr_example.json")
    body["credit"] = True

    assert "credit_reference_id" in errors(body)


def test_cdr_id_over_36_characters_only_for_credit_cdrs() -> None:
    body = load_example("cdr_example.json")
    body["id"] = "X" * 39
    assert "id" in errors(body)

    body.update(credit=True, credit_reference_id="X" * 36)
    assert validated(body)["ocpi_id"] == "X" * 39


def test_cdr_more_than_six_decimals_are_rounded_not_refused() -> None:
    body = load_example("cdr_example.json")
    body["total_time"] = 1.97305555555

    assert validated(body)["total_time"] == Decimal("1.973056")
