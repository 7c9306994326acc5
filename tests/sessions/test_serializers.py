"""Canonical Session serializers against the spec's examples, and strict inbound types."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sessions.api.serializers import (
    ChargingPreferencesSerializer,
    SessionSerializer,
    session_to_ocpi,
    to_stored_periods,
    to_stored_token,
)
from sessions.models import ChargingSession
from tests.examples import load_example

SESSION_EXAMPLES = ["session_example_1_simple_start.json", "session_example_2_short_finished.json"]
PATCH_EXAMPLES = ["session_patch_example_total_cost.json", "session_patch_example_charging_period.json"]


def errors_of(data: Any, *, partial: bool = False) -> dict[str, Any]:
    serializer = SessionSerializer(data=data, partial=partial)
    assert not serializer.is_valid()
    return serializer.errors


def unsaved(validated: dict[str, Any]) -> ChargingSession:
    """A row as the services build it from validated data (no database)."""
    cost = validated.get("total_cost") or {}
    return ChargingSession(
        country_code=validated["country_code"],
        party_id=validated["party_id"],
        ocpi_id=validated["ocpi_id"],
        start_date_time=validated["start_date_time"],
        end_date_time=validated.get("end_date_time"),
        kwh=validated["kwh"],
        cdr_token=to_stored_token(validated["cdr_token"]),
        auth_method=validated["auth_method"],
        authorization_reference=validated.get("authorization_reference", ""),
        location_id=validated["location_id"],
        evse_uid=validated["evse_uid"],
        connector_id=validated["connector_id"],
        meter_id=validated.get("meter_id", ""),
        currency=validated["currency"],
        charging_periods=to_stored_periods(validated.get("charging_periods")),
        total_cost_excl_vat=cost.get("excl_vat"),
        total_cost_incl_vat=cost.get("incl_vat"),
        status=validated["status"],
        last_updated=validated["last_updated"],
    )


@pytest.mark.parametrize("name", SESSION_EXAMPLES)
def test_session_serializer_examples_round_trip(name: str) -> None:
    example = load_example(name)
    serializer = SessionSerializer(data=example)
    assert serializer.is_valid(), serializer.errors

    out = SessionSerializer(unsaved(serializer.validated_data)).data

    assert out == example  # numbers compare by value: 0.0 == 0, 8.50 == 8.5


def test_session_serializer_example_2_keeps_energy_volumes_as_given() -> None:
    """spec-issues D3: the example's ENERGY volumes look like Wh; we neither rescale nor reject them."""
    data = SessionSerializer(data=load_example("session_example_2_short_finished.json"))
    assert data.is_valid(), data.errors
    periods = data.validated_data["charging_periods"]
    assert periods[1]["dimensions"][0] == {"type": "ENERGY", "volume": Decimal(41000)}
    assert periods[2]["tariff_id"] == "12"


@pytest.mark.parametrize("name", PATCH_EXAMPLES)
def test_session_serializer_patch_examples_validate_partial_only(name: str) -> None:
    example = load_example(name)
    serializer = SessionSerializer(data=example, partial=True)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["total_cost"]["excl_vat"] in (Decimal("0.6"), Decimal("0.8"))
    assert "country_code" in errors_of(example)  # not a full Session


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kwh": "1.5"}, "kwh"),
        ({"kwh": True}, "kwh"),
        ({"id": 101}, "id"),
        ({"country_code": "NLD"}, "country_code"),
        ({"status": "active"}, "status"),
        ({"status": "RESERVED"}, "status"),  # spec-issues D1: the enum value is RESERVATION
        ({"auth_method": "RFID"}, "auth_method"),
        ({"currency": "euro"}, "currency"),
        ({"currency": 978}, "currency"),
        ({"start_date_time": "2020-03-09 10:17"}, "start_date_time"),
        ({"last_updated": "2020-03-09T10:17:09+02:00"}, "last_updated"),
        ({"cdr_token": {"uid": "x"}}, "cdr_token"),
        ({"cdr_token": "123abc"}, "cdr_token"),
        ({"charging_periods": {"start_date_time": "2020-03-09T10:17:09Z"}}, "charging_periods"),
        ({"charging_periods": [{"start_date_time": "2020-03-09T10:17:09Z", "dimensions": []}]}, "charging_periods"),
        (
            {"charging_periods": [{"start_date_time": "2020-03-09T10:17:09Z", "dimensions": [{"type": "FLAT"}]}]},
            "charging_periods",
        ),
        ({"total_cost": {"incl_vat": 1}}, "total_cost"),
        ({"total_cost": {"excl_vat": "2.5"}}, "total_cost"),
        ({"meter_id": 12345}, "meter_id"),
        ({"evse_uid": "x" * 37}, "evse_uid"),
    ],
)
def test_session_serializer_refuses_wrong_types_naming_the_field(change: dict[str, Any], field: str) -> None:
    data = {**load_example("session_example_1_simple_start.json"), **change}
    assert field in errors_of(data)


def test_session_serializer_ignores_unknown_fields_and_requires_the_rest() -> None:
    data = {**load_example("session_example_1_simple_start.json"), "vendor_extension": {"x": 1}}
    serializer = SessionSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert "vendor_extension" not in serializer.validated_data

    missing = {k: v for k, v in data.items() if k not in ("kwh", "cdr_token")}
    assert set(errors_of(missing)) >= {"kwh", "cdr_token"}


def test_session_serializer_patch_needs_last_updated_and_complete_nested_objects() -> None:
    assert "last_updated" in errors_of({"kwh": 2}, partial=True)
    assert "total_cost" in errors_of(
        {"total_cost": {"incl_vat": 1}, "last_updated": "2020-01-01T00:00:00Z"}, partial=True
    )
    errors = errors_of(
        {
            "charging_periods": [{"dimensions": [{"type": "ENERGY", "volume": 1}]}],
            "last_updated": "2020-01-01T00:00:00Z",
        },
        partial=True,
    )
    assert "charging_periods" in errors


def test_session_to_ocpi_leaves_out_empty_optionals() -> None:
    serializer = SessionSerializer(data=load_example("session_example_1_simple_start.json"))
    assert serializer.is_valid(), serializer.errors
    session = unsaved(serializer.validated_data)
    session.total_cost_excl_vat = None

    out = session_to_ocpi(session)

    for key in ("end_date_time", "authorization_reference", "meter_id", "charging_periods", "total_cost"):
        assert key not in out


def test_charging_preferences_serializer() -> None:
    ok = ChargingPreferencesSerializer(
        data={"profile_type": "FAST", "departure_time": "2024-01-01T18:00:00Z", "energy_need": 20.5}
    )
    assert ok.is_valid(), ok.errors
    bad = ChargingPreferencesSerializer(data={"profile_type": "TURBO", "discharge_allowed": "yes", "energy_need": "5"})
    assert not bad.is_valid()
    assert set(bad.errors) == {"profile_type", "discharge_allowed", "energy_need"}
