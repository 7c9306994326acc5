"""Commands on the wire (sessions/commands/wire.py): OCPI 2.1.1 and 2.3.0 command bodies, CommandResponse and
CommandResult.

(a) bodies written from the 2.1.1/2.3.0 field tables convert into what our 2.2.1 serializers accept; (b) what
command_body/command_response_data/command_result_data produce converts out into objects the 2.1.1/2.3.0 models
accept; (c) round trips keep what both versions carry. Commands have no PATCH.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from ocpi_platform.ocpi.wire import V211, V230, WireContext, from_wire, registered, to_wire
from sessions.commands.serializers import (
    COMMAND_SERIALIZERS,
    CommandResponseSerializer,
    CommandResultSerializer,
    command_body,
    command_response_data,
    command_result_data,
)
from sessions.commands.wire import DEFAULT_TIMEOUT_211, RESULT_FROM_211, RESULT_TO_211, reservation_id_to_211
from sessions.models import CommandRequest, CommandResultType
from tests.system.ocpi_schema.v211 import commands as v211
from tests.system.ocpi_schema.v230 import commands as v230
from tests.tokens.factories import TokenFactory

EMSP = WireContext(country_code="NL", party_id="TNM")  # the eMSP sending the command (owner of its token)
URL = "https://emsp.example.com/ocpi/emsp/2.1.1/commands/START_SESSION/4711"

TOKEN_211 = {
    "uid": "7A3F00B2",
    "type": "RFID",
    "auth_id": "NL-TNM-C00012345-K",
    "issuer": "The New Motion",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2017-03-02T09:10:11Z",
}
TOKEN_230 = {
    "country_code": "DE",
    "party_id": "EMX",
    "uid": "DE-EMX-C12345678-9",
    "type": "EMAID",
    "contract_id": "DE-EMX-C12345678-9",
    "issuer": "EMX Mobility",
    "valid": True,
    "whitelist": "NEVER",
    "last_updated": "2025-02-03T04:05:06Z",
}

# 2.1.1 bodies (mod_commands.md 3.2-3.5): (command, full, minimal)
BODIES_211 = {
    "START_SESSION": (
        {"response_url": URL, "token": TOKEN_211, "location_id": "LOC-0039", "evse_uid": "EVSE-1"},
        {"response_url": URL, "token": TOKEN_211, "location_id": "LOC-0039"},
    ),
    "RESERVE_NOW": (
        {
            "response_url": URL,
            "token": TOKEN_211,
            "expiry_date": "2017-03-02T10:00:00Z",
            "reservation_id": 1234,
            "location_id": "LOC-0039",
            "evse_uid": "EVSE-1",
        },
        {
            "response_url": URL,
            "token": TOKEN_211,
            "expiry_date": "2017-03-02T10:00:00Z",
            "reservation_id": 7,
            "location_id": "LOC-0039",
        },
    ),
    "STOP_SESSION": ({"response_url": URL, "session_id": "SES-1"}, {"response_url": URL, "session_id": "s"}),
    "UNLOCK_CONNECTOR": (
        {"response_url": URL, "location_id": "LOC-0039", "evse_uid": "EVSE-1", "connector_id": "2"},
        {"response_url": URL, "location_id": "L", "evse_uid": "E", "connector_id": "1"},
    ),
}
KINDS = {
    "START_SESSION": "StartSession",
    "RESERVE_NOW": "ReserveNow",
    "STOP_SESSION": "StopSession",
    "UNLOCK_CONNECTOR": "UnlockConnector",
    "CANCEL_RESERVATION": "CancelReservation",
}

# 2.3.0 bodies (mod_commands.asciidoc 4): the 2.2.1 fields, the 2.3.0 Token.
BODIES_230 = {
    "START_SESSION": {
        "response_url": URL,
        "token": TOKEN_230,
        "location_id": "LOC-1",
        "evse_uid": "EVSE-1",
        "connector_id": "1",
        "authorization_reference": "AUTH-1",
    },
    "RESERVE_NOW": {
        "response_url": URL,
        "token": TOKEN_230,
        "expiry_date": "2025-02-03T05:00:00Z",
        "reservation_id": "RES-A",
        "location_id": "LOC-1",
        "evse_uid": "EVSE-1",
        "authorization_reference": "AUTH-2",
    },
    "STOP_SESSION": {"response_url": URL, "session_id": "S-1"},
    "CANCEL_RESERVATION": {"response_url": URL, "reservation_id": "RES-A"},
    "UNLOCK_CONNECTOR": {"response_url": URL, "location_id": "LOC-1", "evse_uid": "EVSE-1", "connector_id": "1"},
}


def _valid_body(command: str, data: dict[str, Any]) -> dict[str, Any]:
    serializer = COMMAND_SERIALIZERS[command](data=data)
    assert serializer.is_valid(), serializer.errors
    return dict(serializer.validated_data)


# --- (a) and (c) 2.1.1 bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(BODIES_211))
@pytest.mark.parametrize("which", [0, 1], ids=["full", "minimal"])
def test_command_211_into_221_is_accepted_and_round_trips(command: str, which: int) -> None:
    body = BODIES_211[command][which]
    original = copy.deepcopy(body)

    data = from_wire(KINDS[command], body, V211, EMSP)

    assert original == body
    validated = _valid_body(command, data)
    if "token" in body:
        assert validated["token"]["contract_id"] == "NL-TNM-C00012345-K"
        assert (validated["token"]["country_code"], validated["token"]["party_id"]) == ("NL", "TNM")
    if command == "RESERVE_NOW":
        assert validated["reservation_id"] == str(body["reservation_id"])
    assert to_wire(KINDS[command], data, V211, EMSP) == body


# --- (b) 2.2.1 bodies out to 2.1.1 ------------------------------------------------------------------------------


def _our_body(command: str, token: Any, **fields: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "response_url": URL,
        "token": token,
        "location_id": None,
        "evse_uid": None,
        "connector_id": None,
        "session_id": None,
        "reservation_id": None,
        "expiry_date": None,
        "authorization_reference": None,
    }
    return command_body(command, **{**arguments, **fields})


@pytest.mark.django_db
def test_our_start_session_out_to_211_drops_connector_and_reference() -> None:
    token = TokenFactory(type="APP_USER")
    ours = _our_body(
        "START_SESSION", token, location_id="LOC1", evse_uid="E1", connector_id="2", authorization_reference="A1"
    )

    out = to_wire("StartSession", ours, V211)

    model = v211.StartSession.model_validate(out)
    assert model.token.type == "OTHER"
    assert model.token.auth_id == token.contract_id
    assert out == {"response_url": URL, "token": out["token"], "location_id": "LOC1", "evse_uid": "E1"}


@pytest.mark.django_db
@pytest.mark.parametrize(("reservation_id", "number"), [("42", 42), ("RES-A", reservation_id_to_211("res-a"))])
def test_our_reserve_now_out_to_211_has_an_int_reservation_id(reservation_id: str, number: int) -> None:
    ours = _our_body(
        "RESERVE_NOW",
        TokenFactory(),
        location_id="LOC1",
        reservation_id=reservation_id,
        expiry_date=datetime(2024, 1, 1, 12, tzinfo=UTC),
        authorization_reference="A1",
    )

    out = to_wire("ReserveNow", ours, V211)

    model = v211.ReserveNow.model_validate(out)
    assert model.reservation_id == number
    assert "authorization_reference" not in out
    assert 0 <= number < 2**31  # an int any 2.1.1 CPO can hold


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("command", "fields"),
    [
        ("STOP_SESSION", {"session_id": "SES-1"}),
        ("UNLOCK_CONNECTOR", {"location_id": "L1", "evse_uid": "E1", "connector_id": "1"}),
    ],
)
def test_our_other_bodies_out_to_211_are_unchanged(command: str, fields: dict[str, Any]) -> None:
    ours = _our_body(command, None, **fields)

    out = to_wire(KINDS[command], ours, V211)

    v211.COMMAND_BODIES[command].model_validate(out)
    assert out == ours


def test_reservation_id_to_211_is_stable_and_case_insensitive() -> None:
    assert reservation_id_to_211("Res-A") == reservation_id_to_211("RES-A") != reservation_id_to_211("RES-B")
    assert reservation_id_to_211("0") == 0


# --- CommandResponse and CommandResult 2.1.1 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "ours"),
    [
        ("ACCEPTED", "ACCEPTED"),
        ("REJECTED", "REJECTED"),
        ("TIMEOUT", "REJECTED"),
        ("UNKNOWN_SESSION", "UNKNOWN_SESSION"),
    ],
)
def test_command_response_211_into_221_gets_the_default_timeout(result: str, ours: str) -> None:
    data = from_wire("CommandResponse", {"result": result}, V211)

    serializer = CommandResponseSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"result": ours, "timeout": DEFAULT_TIMEOUT_211}


def test_our_command_response_out_to_211_is_the_result_alone() -> None:
    command = CommandRequest(
        response_result="ACCEPTED", response_timeout=30, response_message=[{"language": "en", "text": "ok"}]
    )

    out = to_wire("CommandResponse", command_response_data(command), V211)

    v211.CommandResponse.model_validate(out)
    assert out == {"result": "ACCEPTED"}
    assert to_wire("CommandResponse", from_wire("CommandResponse", out, V211), V211) == out


@pytest.mark.parametrize("result", CommandResultType.values)
def test_our_command_result_out_to_211_is_a_211_command_response(result: str) -> None:
    command = CommandRequest(result=result, result_message=[{"language": "en", "text": "why"}])

    out = to_wire("CommandResult", command_result_data(command), V211)

    v211.CommandResponse.model_validate(out)
    assert out == {"result": RESULT_TO_211[result]}
    # Back into 2.2.1: the same value where 2.1.1 has it, else REJECTED.
    back = from_wire("CommandResult", out, V211)
    assert back == {"result": result if result in RESULT_FROM_211 else "REJECTED"}


@pytest.mark.parametrize(
    ("result", "ours"),
    [
        ("ACCEPTED", "ACCEPTED"),
        ("NOT_SUPPORTED", "NOT_SUPPORTED"),
        ("REJECTED", "REJECTED"),
        ("TIMEOUT", "TIMEOUT"),
        ("UNKNOWN_SESSION", "REJECTED"),
    ],
)
def test_a_211_result_posted_to_our_response_url_is_a_221_command_result(result: str, ours: str) -> None:
    data = from_wire("CommandResult", {"result": result}, V211)

    serializer = CommandResultSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data == {"result": ours}


# --- 2.3.0 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(BODIES_230))
def test_command_230_into_221_is_accepted(command: str) -> None:
    body = BODIES_230[command]

    data = from_wire(KINDS[command], body, V230)

    validated = _valid_body(command, data)
    if "token" in body:
        assert validated["token"]["type"] == "OTHER"  # EMAID
        assert body["token"]["type"] == "EMAID"  # input untouched
        back = to_wire(KINDS[command], data, V230)
        assert {key for key in body if body[key] != back[key]} == {"token"}
        assert back["token"] == {**TOKEN_230, "type": "OTHER"}
    else:
        assert data == body
        assert to_wire(KINDS[command], data, V230) == body


@pytest.mark.django_db
def test_our_bodies_and_answers_out_to_230_match_the_230_models() -> None:
    token = TokenFactory(type="AD_HOC_USER")
    bodies = {
        "START_SESSION": _our_body("START_SESSION", token, location_id="L1", evse_uid="E1", connector_id="1"),
        "RESERVE_NOW": _our_body(
            "RESERVE_NOW", token, location_id="L1", reservation_id="R1", expiry_date=datetime(2024, 1, 1, tzinfo=UTC)
        ),
        "STOP_SESSION": _our_body("STOP_SESSION", None, session_id="S1"),
        "CANCEL_RESERVATION": _our_body("CANCEL_RESERVATION", None, reservation_id="R1"),
        "UNLOCK_CONNECTOR": _our_body("UNLOCK_CONNECTOR", None, location_id="L1", evse_uid="E1", connector_id="1"),
    }
    models = {
        "START_SESSION": v230.StartSession,
        "RESERVE_NOW": v230.ReserveNow,
        "STOP_SESSION": v230.StopSession,
        "CANCEL_RESERVATION": v230.CancelReservation,
        "UNLOCK_CONNECTOR": v230.UnlockConnector,
    }
    for command, ours in bodies.items():
        out = to_wire(KINDS[command], ours, V230)
        models[command].model_validate(out)
        assert out == ours

    response = command_response_data(CommandRequest(response_result="REJECTED", response_timeout=0))
    result = command_result_data(CommandRequest(result="EVSE_OCCUPIED"))
    v230.CommandResponse.model_validate(to_wire("CommandResponse", response, V230))
    v230.CommandResult.model_validate(to_wire("CommandResult", result, V230))
    assert from_wire("CommandResult", result, V230) == result


def test_commands_kinds_are_registered_where_the_object_exists() -> None:
    for kind in ("StartSession", "StopSession", "ReserveNow", "UnlockConnector", "CommandResponse", "CommandResult"):
        assert registered(kind, V211), kind
        assert registered(kind, V230), kind
    assert registered("CancelReservation", V230)
    assert not registered("CancelReservation", V211)  # no CANCEL_RESERVATION in 2.1.1
