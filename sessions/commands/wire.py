"""Commands module on the wire: OCPI 2.1.1 and 2.3.0 command bodies, CommandResponse and CommandResult <-> 2.2.1.

Registered through `sessions.wire.register_wire()`. Every converter returns a new dict.

OCPI 2.1.1 (mod_commands.md; 2.3.0 changelog "Changes between 2.1.1 and 2.2", Commands):
- StartSession has no `connector_id` and no `authorization_reference`; ReserveNow has no
  `authorization_reference` and its `reservation_id` is an int; the nested `token` is a 2.1.1 Token
  (tokens.wire). Out drops the fields 2.1.1 lacks; into adds none.
- There is no CANCEL_RESERVATION command: nothing is registered for CancelReservation in 2.1.1.
- CommandResponse is {result} (mod_commands.md 3.1): no `timeout` and no `message`; CommandResponseType also has
  TIMEOUT. Into fills `timeout` (required in 2.2.1, commands.md 4.6) with `DEFAULT_TIMEOUT_211`.
- The asynchronous result is a 2.1.1 CommandResponse POSTed to response_url (mod_commands.md 2.2.1): the kind
  "CommandResult" converts a 2.2.1 CommandResult to that CommandResponse and back (`RESULT_TO_211`,
  `RESULT_FROM_211`).

OCPI 2.3.0 (mod_commands.asciidoc): the objects are those of 2.2.1 but the Token's type, an OpenEnum (into: EMAID
or an unknown value -> OTHER, tokens.wire.token_type_from_230).
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

from ocpi_platform.ocpi import wire
from ocpi_platform.ocpi.wire import WireContext, pick
from tokens.wire import token_from_211, token_from_230, token_to_211, token_to_230

#: A 2.1.1 CommandResponse has no timeout (mod_commands.md 3.1); 2.2.1 requires one (commands.md 4.6). The eMSP
#: waits this many seconds for the asynchronous result of a command sent to a 2.1.1 CPO.
DEFAULT_TIMEOUT_211 = 60

#: 2.2.1 CommandResponseType -> 2.1.1: the same values (2.1.1 adds TIMEOUT).
#: 2.1.1 CommandResponseType -> 2.2.1 CommandResponseType (the synchronous answer): TIMEOUT is not a 2.2.1
#: CommandResponseType; the CPO could not reach the charge point in time, so the request was not accepted.
RESPONSE_FROM_211 = {"TIMEOUT": "REJECTED"}

#: 2.2.1 CommandResultType -> the 2.1.1 CommandResponseType the CPO POSTs as the asynchronous result. Results the
#: charge point refused for a reason 2.1.1 cannot name are REJECTED ("rejected by the CPO or Charge Point").
RESULT_TO_211 = {
    "ACCEPTED": "ACCEPTED",
    "CANCELED_RESERVATION": "REJECTED",
    "EVSE_OCCUPIED": "REJECTED",
    "EVSE_INOPERATIVE": "REJECTED",
    "FAILED": "REJECTED",
    "NOT_SUPPORTED": "NOT_SUPPORTED",
    "REJECTED": "REJECTED",
    "TIMEOUT": "TIMEOUT",
    "UNKNOWN_RESERVATION": "REJECTED",
}
#: 2.1.1 CommandResponseType (as an asynchronous result) -> 2.2.1 CommandResultType. UNKNOWN_SESSION (a
#: STOP_SESSION for a session the CPO does not know) is a refusal: REJECTED.
RESULT_FROM_211 = {
    "ACCEPTED": "ACCEPTED",
    "NOT_SUPPORTED": "NOT_SUPPORTED",
    "REJECTED": "REJECTED",
    "TIMEOUT": "TIMEOUT",
    "UNKNOWN_SESSION": "REJECTED",
}


def reservation_id_to_211(value: Any) -> Any:
    """2.2.1 reservation_id CiString(36) -> 2.1.1 int (mod_commands.md 3.2): digits as their number; any other id
    as a stable 31-bit CRC-32 of its upper-cased text (the same id always gives the same number, so a RESERVE_NOW
    with the same id still replaces the reservation)."""
    if not isinstance(value, str):
        return value
    if value.isdigit() and len(value) <= 9:
        return int(value)
    return zlib.crc32(value.upper().encode()) & 0x7FFFFFFF


def reservation_id_from_211(value: Any) -> Any:
    """2.1.1 int reservation_id -> 2.2.1 CiString(36)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _with_token(data: dict[str, Any], ctx: WireContext, convert: Any) -> dict[str, Any]:
    out = dict(data)
    if isinstance(out.get("token"), dict):
        out["token"] = convert(out["token"], replace(ctx, partial=False))  # a command's Token is whole
    return out


def start_session_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 StartSession -> 2.1.1 (mod_commands.md 3.3): connector_id and authorization_reference dropped."""
    return _with_token(pick(data, "response_url", "token", "location_id", "evse_uid"), ctx, token_to_211)


def start_session_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.1.1 StartSession -> 2.2.1: the Token's country_code/party_id from ctx (the eMSP sending the command)."""
    return _with_token(pick(data, "response_url", "token", "location_id", "evse_uid"), ctx, token_from_211)


def reserve_now_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 ReserveNow -> 2.1.1 (mod_commands.md 3.2): int reservation_id, no authorization_reference."""
    out = _with_token(
        pick(data, "response_url", "token", "expiry_date", "reservation_id", "location_id", "evse_uid"),
        ctx,
        token_to_211,
    )
    if "reservation_id" in out:
        out["reservation_id"] = reservation_id_to_211(out["reservation_id"])
    return out


def reserve_now_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    out = _with_token(
        pick(data, "response_url", "token", "expiry_date", "reservation_id", "location_id", "evse_uid"),
        ctx,
        token_from_211,
    )
    if "reservation_id" in out:
        out["reservation_id"] = reservation_id_from_211(out["reservation_id"])
    return out


def stop_session_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """StopSession: the same two fields in 2.1.1 (mod_commands.md 3.4) and 2.2.1."""
    return pick(data, "response_url", "session_id")


def unlock_connector_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """UnlockConnector: the same fields in 2.1.1 (mod_commands.md 3.5) and 2.2.1."""
    return pick(data, "response_url", "location_id", "evse_uid", "connector_id")


def command_response_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 CommandResponse -> 2.1.1 {result}: `timeout` and `message` dropped (mod_commands.md 3.1)."""
    return pick(data, "result")


def command_response_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.1.1 CommandResponse (synchronous answer) -> 2.2.1: TIMEOUT -> REJECTED, `timeout` DEFAULT_TIMEOUT_211."""
    out = pick(data, "result")
    if "result" in out:
        out["result"] = RESPONSE_FROM_211.get(out["result"], out["result"])
    out["timeout"] = DEFAULT_TIMEOUT_211
    return out


def command_result_to_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """2.2.1 CommandResult -> the 2.1.1 CommandResponse POSTed to response_url (`RESULT_TO_211`; message dropped)."""
    out = pick(data, "result")
    if "result" in out:
        out["result"] = RESULT_TO_211.get(out["result"], "REJECTED")
    return out


def command_result_from_211(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """A 2.1.1 CommandResponse POSTed to our response_url -> 2.2.1 CommandResult (`RESULT_FROM_211`)."""
    out = pick(data, "result")
    if "result" in out:
        out["result"] = RESULT_FROM_211.get(out["result"], out["result"])
    return out


def with_token_to_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """StartSession/ReserveNow 2.2.1 -> 2.3.0: the same fields (Token unchanged)."""
    return _with_token(data, ctx, token_to_230)


def with_token_from_230(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """StartSession/ReserveNow 2.3.0 -> 2.2.1: the Token's type mapped (EMAID -> OTHER)."""
    return _with_token(data, ctx, token_from_230)


def _copy(data: dict[str, Any], ctx: WireContext) -> dict[str, Any]:
    """An object that is the same in 2.3.0 and 2.2.1."""
    return dict(data)


def register_wire() -> None:
    """Register the Commands module converters (through SessionsConfig.ready())."""
    v211, v230 = wire.V211, wire.V230
    wire.register("StartSession", v211, out=start_session_to_211, into=start_session_from_211)
    wire.register("ReserveNow", v211, out=reserve_now_to_211, into=reserve_now_from_211)
    wire.register("StopSession", v211, out=stop_session_211, into=stop_session_211)
    wire.register("UnlockConnector", v211, out=unlock_connector_211, into=unlock_connector_211)
    wire.register("CommandResponse", v211, out=command_response_to_211, into=command_response_from_211)
    wire.register("CommandResult", v211, out=command_result_to_211, into=command_result_from_211)
    for kind in ("StartSession", "ReserveNow"):
        wire.register(kind, v230, out=with_token_to_230, into=with_token_from_230)
    for kind in ("StopSession", "CancelReservation", "UnlockConnector", "CommandResponse", "CommandResult"):
        wire.register(kind, v230, out=_copy, into=_copy)
