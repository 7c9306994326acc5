"""TokenSerializer: the spec's examples round-trip; strict types, lengths and the PATCH rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.tokens.conftest import load_example
from tokens.api.serializers import TokenSerializer
from tokens.models import Token

EXAMPLE_TOKENS = [
    load_example("token_example_1_app_user.json"),
    load_example("token_example_2_full_rfid.json"),
    load_example("token_put_example.json"),
    load_example("transport_and_format_get_token_example.json")["data"],
    *load_example("transport_and_format_get_token_list_example.json")["data"],
]


def _valid(data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    serializer = TokenSerializer(data=data, **kwargs)
    assert serializer.is_valid(), serializer.errors
    return serializer.validated_data


def _errors(data: Any, **kwargs: Any) -> dict[str, Any]:
    serializer = TokenSerializer(data=data, **kwargs)
    assert not serializer.is_valid()
    return serializer.errors


@pytest.mark.parametrize("example", EXAMPLE_TOKENS, ids=lambda e: f"{e['party_id']}-{e['uid']}")
def test_token_serializer_examples_round_trip(example: dict[str, Any]) -> None:
    data = dict(_valid(example))
    if data.get("energy_contract") is None:
        data.pop("energy_contract", None)
    token = Token(**data)

    assert TokenSerializer(token).data == example


def test_token_serializer_reads_values_as_ocpi_types() -> None:
    data = _valid(load_example("token_example_2_full_rfid.json"))

    assert data["ocpi_id"] == "12345678905880"
    assert data["valid"] is True
    assert data["last_updated"] == datetime(2018, 12, 10, 17, 25, 10, tzinfo=UTC)
    assert data["energy_contract"] == {"supplier_name": "Greenpeace Energy eG", "contract_id": "0123456789"}


def test_token_serializer_omits_empty_optional_fields() -> None:
    token = Token(
        country_code="NL", party_id="EXA", ocpi_id="X1", type="RFID", contract_id="NL-EXA-C00000001",
        issuer="Example", valid=False, whitelist="NEVER", visual_number="", group_id="", language="",
        default_profile_type="", energy_contract=None, last_updated=datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC),
    )  # fmt: skip

    data = TokenSerializer(token).data

    assert set(data) == {"country_code", "party_id", "uid", "type", "contract_id", "issuer", "valid", "whitelist",
                         "last_updated"}  # fmt: skip
    assert data["last_updated"] == "2024-05-01T12:00:00.5Z"
    assert data["valid"] is False


def test_token_serializer_ignores_unknown_fields() -> None:
    data = _valid({**load_example("token_put_example.json"), "future_field": {"x": 1}})

    assert "future_field" not in data


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("uid", 12345678),
        ("country_code", 31),
        ("contract_id", 1.5),
        ("issuer", 42),
        ("visual_number", 7),
        ("group_id", True),
        ("valid", "true"),
        ("valid", 1),
        ("type", "rfid"),
        ("type", 1),
        ("whitelist", "SOMETIMES"),
        ("default_profile_type", "SLOW"),
        ("energy_contract", "Greenpeace"),
        ("last_updated", "29-06-2015 22:39"),
        ("last_updated", 1435617549),
    ],
)
def test_token_serializer_rejects_wrong_types(field: str, value: Any) -> None:
    errors = _errors({**load_example("token_put_example.json"), field: value})

    assert set(errors) == {field}


@pytest.mark.parametrize(
    ("field", "length"),
    [("country_code", 3), ("party_id", 4), ("uid", 37), ("contract_id", 37), ("visual_number", 65), ("issuer", 65),
     ("group_id", 37), ("language", 3)],
)  # fmt: skip
def test_token_serializer_rejects_too_long_strings(field: str, length: int) -> None:
    example = load_example("token_put_example.json")
    _valid({**example, field: "A" * (length - 1)})  # the maximum itself is fine

    errors = _errors({**example, field: "A" * length})

    assert set(errors) == {field}


def test_token_serializer_rejects_non_ascii_cistring() -> None:
    errors = _errors({**load_example("token_put_example.json"), "uid": "0123é"})

    assert set(errors) == {"uid"}


@pytest.mark.parametrize("field", ["country_code", "party_id", "uid", "type", "contract_id", "issuer", "valid",
                                   "whitelist", "last_updated"])  # fmt: skip
def test_token_serializer_put_requires_field(field: str) -> None:
    example = load_example("token_put_example.json")
    del example[field]

    assert set(_errors(example)) == {field}


def test_token_serializer_energy_contract_needs_supplier_name() -> None:
    errors = _errors({**load_example("token_put_example.json"), "energy_contract": {"contract_id": "1"}})

    assert "supplier_name" in errors["energy_contract"]


def test_token_serializer_patch_accepts_spec_example() -> None:
    data = _valid(load_example("token_patch_example.json"), partial=True)

    assert data == {"valid": False, "last_updated": datetime(2019, 6, 19, 2, 11, 11, tzinfo=UTC)}


def test_token_serializer_patch_requires_last_updated() -> None:
    errors = _errors({"valid": False}, partial=True)

    assert set(errors) == {"last_updated"}


def test_token_serializer_patch_energy_contract_must_be_complete() -> None:
    errors = _errors({"energy_contract": {"contract_id": "9"}, "last_updated": "2024-01-01T00:00:00Z"}, partial=True)

    assert "supplier_name" in errors["energy_contract"]


def test_token_serializer_patch_rejects_null_for_required_field() -> None:
    errors = _errors({"issuer": None, "last_updated": "2024-01-01T00:00:00Z"}, partial=True)

    assert set(errors) == {"issuer"}
