"""Tokens on the wire (tokens/wire.py): OCPI 2.1.1 and 2.3.0 Token, AuthorizationInfo, LocationReferences.

(a) objects written from the 2.1.1/2.3.0 field tables convert into what our 2.2.1 serializers accept;
(b) what our 2.2.1 code produces converts out into objects the 2.1.1/2.3.0 models accept;
(c) version -> 2.2.1 -> version keeps what both carry; (d) PATCH fragments gain no field.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ocpi_platform.ocpi.wire import V211, V230, WireContext, from_wire, registered, to_wire
from tests.system.ocpi_schema.v211 import tokens as v211
from tests.system.ocpi_schema.v230 import tokens as v230
from tests.tokens.factories import TokenFactory
from tokens.authorization import AuthorizationInfo
from tokens.serializers import (
    AuthorizationInfoSerializer,
    LocationReferencesSerializer,
    TokenSerializer,
    authorization_info_data,
)
from tokens.wire import authorization_info_with_token

EMSP = WireContext(country_code="NL", party_id="TNM")
PATCH = WireContext(country_code="NL", party_id="TNM", partial=True)

# --- 2.1.1 examples (mod_tokens.md 3.2, 4.2, 3.1) ---------------------------------------------------------------

TOKEN_211_FULL = {
    "uid": "7A3F00B2",
    "type": "RFID",
    "auth_id": "NL-TNM-C00012345-K",
    "visual_number": "TNM 0001 2345",
    "issuer": "The New Motion",
    "valid": True,
    "whitelist": "ALLOWED_OFFLINE",
    "language": "nl",
    "last_updated": "2017-03-02T09:10:11Z",
}
TOKEN_211_MINIMAL = {
    "uid": "APP-77",
    "type": "OTHER",
    "auth_id": "NL-TNM-C00000077-Q",
    "issuer": "TNM app",
    "valid": False,
    "whitelist": "NEVER",
    "last_updated": "2017-03-02T09:10:11",
}
LOCATION_REFERENCES_211 = {"location_id": "LOC-0039", "evse_uids": ["EVSE-1", "EVSE-2"], "connector_ids": ["1"]}
AUTHORIZATION_INFO_211 = {
    "allowed": "ALLOWED",
    "location": LOCATION_REFERENCES_211,
    "info": {"language": "en", "text": "Welcome, charge away"},
}

# --- 2.3.0 examples (mod_tokens.asciidoc 4.1-4.4) -------------------------------------------------------------

TOKEN_230_FULL = {
    "country_code": "DE",
    "party_id": "EMX",
    "uid": "DE-EMX-C12345678-9",
    "type": "EMAID",
    "contract_id": "DE-EMX-C12345678-9",
    "visual_number": "EMX 1234 5678",
    "issuer": "EMX Mobility",
    "group_id": "FLEET-7",
    "valid": True,
    "whitelist": "ALLOWED",
    "language": "de",
    "default_profile_type": "GREEN",
    "energy_contract": {"supplier_name": "Stadtwerke", "contract_id": "SW-889"},
    "last_updated": "2025-02-03T04:05:06Z",
}
TOKEN_230_MINIMAL = {
    "country_code": "DE",
    "party_id": "EMX",
    "uid": "AB12CD34",
    "type": "RFID",
    "contract_id": "DE-EMX-C00000001-1",
    "issuer": "EMX Mobility",
    "valid": True,
    "whitelist": "ALWAYS",
    "last_updated": "2025-02-03T04:05:06Z",
}


def _valid_token(data: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
    serializer = TokenSerializer(data=data, partial=partial)
    assert serializer.is_valid(), serializer.errors
    return dict(serializer.validated_data)


# --- (a) 2.1.1 into 2.2.1 ---------------------------------------------------------------------------------------


def test_token_211_full_into_221_is_accepted_with_ctx_party_and_contract_id() -> None:
    original = copy.deepcopy(TOKEN_211_FULL)
    data = from_wire("Token", TOKEN_211_FULL, V211, EMSP)

    assert original == TOKEN_211_FULL  # the partner's object is not changed
    assert "auth_id" not in data
    validated = _valid_token(data)
    assert validated["country_code"] == "NL"
    assert validated["party_id"] == "TNM"
    assert validated["contract_id"] == "NL-TNM-C00012345-K"
    assert validated["ocpi_id"] == "7A3F00B2"
    assert validated["whitelist"] == "ALLOWED_OFFLINE"
    assert validated["language"] == "nl"


def test_token_211_minimal_into_221_is_accepted() -> None:
    validated = _valid_token(from_wire("Token", TOKEN_211_MINIMAL, V211, EMSP))

    assert validated["type"] == "OTHER"
    assert validated["valid"] is False
    assert "group_id" not in validated


def test_token_211_without_party_in_ctx_lacks_the_221_owner() -> None:
    data = from_wire("Token", TOKEN_211_MINIMAL, V211, WireContext())

    serializer = TokenSerializer(data=data)
    assert not serializer.is_valid()
    assert set(serializer.errors) == {"country_code", "party_id"}


def test_token_211_ctx_party_wins_over_a_stray_field() -> None:
    data = from_wire("Token", {**TOKEN_211_MINIMAL, "country_code": "BE", "party_id": "XXX"}, V211, EMSP)

    assert (data["country_code"], data["party_id"]) == ("NL", "TNM")


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        (
            {"valid": False, "last_updated": "2017-03-03T00:00:00Z"},
            {"valid": False, "last_updated": "2017-03-03T00:00:00Z"},
        ),
        (
            {"auth_id": "NL-TNM-C99999999-Z", "last_updated": "2017-03-03T00:00:00Z"},
            {"contract_id": "NL-TNM-C99999999-Z", "last_updated": "2017-03-03T00:00:00Z"},
        ),
        ({"valid": False}, {"valid": False}),  # the 2.1.1 example PATCH: no last_updated, none added
    ],
)
def test_token_211_patch_converts_only_the_fields_present(fragment: dict[str, Any], expected: dict[str, Any]) -> None:
    data = from_wire("Token", fragment, V211, PATCH)

    assert data == expected
    if "last_updated" in fragment:
        _valid_token(data, partial=True)


# --- (b) 2.2.1 out to 2.1.1 -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("token_type", ["RFID", "APP_USER", "AD_HOC_USER", "OTHER"])
def test_our_token_out_to_211_matches_the_211_model(token_type: str) -> None:
    token = TokenFactory(
        type=token_type,
        visual_number="EXA 0001",
        group_id="FAMILY-1",
        language="en",
        default_profile_type="FAST",
        energy_contract={"supplier_name": "Green Power"},
    )
    ours = TokenSerializer(token).data

    out = to_wire("Token", ours, V211)

    model = v211.Token.model_validate(out)
    assert model.auth_id == token.contract_id
    assert model.type == ("RFID" if token_type == "RFID" else "OTHER")
    assert not {"country_code", "party_id", "group_id", "default_profile_type", "energy_contract"} & set(out)
    assert list(out) == [
        "uid",
        "type",
        "auth_id",
        "visual_number",
        "issuer",
        "valid",
        "whitelist",
        "language",
        "last_updated",
    ]


@pytest.mark.django_db
def test_our_token_patch_out_to_211_adds_nothing() -> None:
    assert to_wire("Token", {"valid": False, "last_updated": "2024-01-01T00:00:00Z"}, V211, PATCH) == {
        "valid": False,
        "last_updated": "2024-01-01T00:00:00Z",
    }
    assert to_wire("Token", {"group_id": "G", "last_updated": "2024-01-01T00:00:00Z"}, V211, PATCH) == {
        "last_updated": "2024-01-01T00:00:00Z"
    }


# --- (c) round trips 2.1.1 -------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [TOKEN_211_FULL, TOKEN_211_MINIMAL])
def test_token_211_round_trip_is_exact(token: dict[str, Any]) -> None:
    assert to_wire("Token", from_wire("Token", token, V211, EMSP), V211, EMSP) == token


def test_token_221_round_trip_through_211_loses_only_the_211_less_fields() -> None:
    ours = {**from_wire("Token", TOKEN_211_FULL, V211, EMSP), "type": "APP_USER", "group_id": "G1"}

    back = from_wire("Token", to_wire("Token", ours, V211), V211, EMSP)

    differing = {key for key in ours.keys() | back.keys() if ours.get(key) != back.get(key)}
    assert differing == {"type", "group_id"}  # APP_USER comes back as OTHER; group_id has no 2.1.1 field
    assert back["type"] == "OTHER"


# --- LocationReferences and AuthorizationInfo 2.1.1 ------------------------------------------------------------


def test_location_references_211_into_221_drops_connector_ids() -> None:
    data = from_wire("LocationReferences", LOCATION_REFERENCES_211, V211)

    assert data == {"location_id": "LOC-0039", "evse_uids": ["EVSE-1", "EVSE-2"]}
    serializer = LocationReferencesSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert to_wire("LocationReferences", data, V211) == without_connector_ids(LOCATION_REFERENCES_211)
    v211.LocationReferences.model_validate(to_wire("LocationReferences", data, V211))


def without_connector_ids(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "connector_ids"}


@pytest.mark.parametrize("info", [AUTHORIZATION_INFO_211, {"allowed": "BLOCKED"}])
def test_authorization_info_211_into_221_with_the_token_asked_about(info: dict[str, Any]) -> None:
    token = from_wire("Token", TOKEN_211_FULL, V211, EMSP)

    data = from_wire("AuthorizationInfo", info, V211, EMSP)
    assert "token" not in data  # 2.1.1 does not echo the token

    serializer = AuthorizationInfoSerializer(data=authorization_info_with_token(data, token))
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["allowed"] == info["allowed"]
    assert serializer.validated_data["token"]["contract_id"] == "NL-TNM-C00012345-K"
    if "location" in info:
        assert serializer.validated_data["location"] == {"location_id": "LOC-0039", "evse_uids": ["EVSE-1", "EVSE-2"]}
        assert to_wire("AuthorizationInfo", data, V211) == {
            **info,
            "location": without_connector_ids(info["location"]),
        }
    else:
        assert to_wire("AuthorizationInfo", data, V211) == info


@pytest.mark.django_db
def test_our_authorization_info_out_to_211_drops_token_and_reference() -> None:
    token = TokenFactory()
    ours = authorization_info_data(
        AuthorizationInfo(
            allowed="ALLOWED",
            token=token,
            authorization_reference="AUTH-REF-1",
            location={"location_id": "LOC1", "evse_uids": ["E1"]},
            info={"language": "en", "text": "ok"},
        )
    )

    out = to_wire("AuthorizationInfo", ours, V211)

    v211.AuthorizationInfo.model_validate(out)
    assert out == {"allowed": "ALLOWED", "location": {"location_id": "LOC1", "evse_uids": ["E1"]}, "info": ours["info"]}


# --- 2.3.0 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("wire_type", "ours"), [("EMAID", "OTHER"), ("BIOMETRIC", "OTHER"), ("APP_USER", "APP_USER")])
def test_token_230_into_221_maps_the_open_enum(wire_type: str, ours: str) -> None:
    data = from_wire("Token", {**TOKEN_230_FULL, "type": wire_type}, V230)

    validated = _valid_token(data)
    assert validated["type"] == ours
    assert validated["energy_contract"] == {"supplier_name": "Stadtwerke", "contract_id": "SW-889"}
    assert validated["default_profile_type"] == "GREEN"
    assert TOKEN_230_FULL["type"] == "EMAID"  # input untouched


def test_token_230_minimal_into_221_and_round_trip() -> None:
    data = from_wire("Token", TOKEN_230_MINIMAL, V230)

    _valid_token(data)
    assert to_wire("Token", data, V230) == TOKEN_230_MINIMAL


def test_token_230_round_trip_differs_only_in_an_emaid_type() -> None:
    back = to_wire("Token", from_wire("Token", TOKEN_230_FULL, V230), V230)

    assert {key for key in TOKEN_230_FULL if TOKEN_230_FULL[key] != back[key]} == {"type"}
    assert back["type"] == "OTHER"


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        (
            {"type": "EMAID", "last_updated": "2025-01-01T00:00:00Z"},
            {"type": "OTHER", "last_updated": "2025-01-01T00:00:00Z"},
        ),
        (
            {"valid": False, "last_updated": "2025-01-01T00:00:00Z"},
            {"valid": False, "last_updated": "2025-01-01T00:00:00Z"},
        ),
    ],
)
def test_token_230_patch_converts_only_the_fields_present(fragment: dict[str, Any], expected: dict[str, Any]) -> None:
    data = from_wire("Token", fragment, V230, WireContext(partial=True))

    assert data == expected
    _valid_token(data, partial=True)


@pytest.mark.django_db
def test_our_token_and_authorization_info_out_to_230_match_the_230_models() -> None:
    token = TokenFactory(type="AD_HOC_USER", energy_contract={"supplier_name": "S", "contract_id": "C"})
    ours = TokenSerializer(token).data
    info = authorization_info_data(
        AuthorizationInfo(allowed="NO_CREDIT", token=token, authorization_reference="R1", location={"location_id": "L"})
    )

    assert v230.Token.model_validate(to_wire("Token", ours, V230)).type == "AD_HOC_USER"
    assert to_wire("Token", ours, V230) == ours
    out = to_wire("AuthorizationInfo", info, V230)
    v230.AuthorizationInfo.model_validate(out)
    assert out == info
    assert to_wire("LocationReferences", {"location_id": "L", "evse_uids": ["E"]}, V230) == {
        "location_id": "L",
        "evse_uids": ["E"],
    }


def test_authorization_info_230_into_221_maps_the_nested_token() -> None:
    info = {"allowed": "ALLOWED", "token": TOKEN_230_FULL, "authorization_reference": "REF-9"}

    data = from_wire("AuthorizationInfo", info, V230)

    serializer = AuthorizationInfoSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["token"]["type"] == "OTHER"
    assert serializer.validated_data["authorization_reference"] == "REF-9"


def test_every_tokens_kind_is_registered_for_both_versions() -> None:
    for kind in ("Token", "AuthorizationInfo", "LocationReferences"):
        assert registered(kind, V211)
        assert registered(kind, V230)
