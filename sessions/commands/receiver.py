"""CPO role, Commands Receiver (commands.md): `command_receive` checks a command a partner eMSP sent and stores it
with our synchronous CommandResponse; if ACCEPTED a Celery task runs `command_execute` (the charge point gateway,
at most OCPI_COMMAND_TIMEOUT_SECONDS, else TIMEOUT), which records the CommandResult for delivery
(sessions/commands/results.py). RESERVE_NOW and CANCEL_RESERVATION are carried out in sessions/reservations.py.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from django.db import transaction
from django.utils import timezone

from ocpi_platform.dispatch import enqueue_on_commit
from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Partner
from sessions.gateway import GatewayResult, command_timeout, get_gateway
from sessions.models import (
    ChargingSession,
    CommandDirection,
    CommandRequest,
    CommandResponseType,
    CommandResultType,
    CommandType,
)
from sessions.reservations import reservation_cancel_by_emsp, reservation_get_active, reservation_reserve_now
from sessions.selectors import evse_at, session_get_for_partner

from .results import command_result_record, response_timeout
from .serializers import cdr_token_of, display_text

logger = logging.getLogger(__name__)

UNKNOWN_LOCATION = 2003
CAPABILITY: dict[str, str] = {
    CommandType.START_SESSION: "REMOTE_START_STOP_CAPABLE",
    CommandType.RESERVE_NOW: "RESERVABLE",
    CommandType.UNLOCK_CONNECTOR: "UNLOCK_CAPABLE",
}


def _now() -> datetime:
    return timezone.now()


def _store_token(partner: Partner, token: Mapping[str, Any]) -> None:
    """Keep the eMSP's token in our cache (refreshed by last_updated); our own eMSP's tokens are ours already."""
    from tokens.services import TokenPartyNotAllowedError, token_receive

    with contextlib.suppress(TokenPartyNotAllowedError):
        token_receive(
            partner=partner,
            country_code=token["country_code"],
            party_id=token["party_id"],
            uid=token["ocpi_id"],
            type=token["type"],
            data=token,
        )


class _Refusal(Exception):
    def __init__(self, result: str, message: str, status_code: int = 1000) -> None:
        super().__init__(message)
        self.result, self.message, self.status_code = result, message, status_code


def _location(location_id: str, to_party: PartyRef | None) -> Any:
    from locations.selectors import location_get_published

    location = location_get_published(location_id=location_id, party=to_party)
    if location is None:
        raise _Refusal(CommandResponseType.REJECTED, f"Unknown location {location_id}", UNKNOWN_LOCATION)
    return location


def _evse(location: Any, evse_uid: str) -> Any:
    from locations.selectors import evse_get

    evse = evse_get(location=location, evse_uid=evse_uid)
    if evse is None:
        raise _Refusal(
            CommandResponseType.REJECTED, f"Unknown EVSE {evse_uid} at location {location.ocpi_id}", UNKNOWN_LOCATION
        )
    return evse


def _connector(evse: Any, connector_id: str) -> Any:
    from locations.selectors import connector_get

    connector = connector_get(evse=evse, connector_id=connector_id)
    if connector is None:
        raise _Refusal(
            CommandResponseType.REJECTED, f"Unknown connector {connector_id} on EVSE {evse.uid}", UNKNOWN_LOCATION
        )
    return connector


def _capable(evse: Any, command: str) -> None:
    capability = CAPABILITY[command]
    if capability not in (evse.capabilities or []):
        raise _Refusal(CommandResponseType.NOT_SUPPORTED, f"EVSE {evse.uid} is not {capability}")


def _check(command: CommandRequest, data: Mapping[str, Any], partner: Partner, to_party: PartyRef | None) -> None:
    """Fill the command's object fields and raise _Refusal when it cannot be forwarded (commands.md 7)."""
    kind = command.command
    if kind in (CommandType.START_SESSION, CommandType.RESERVE_NOW, CommandType.UNLOCK_CONNECTOR):
        location = _location(data["location_id"], to_party)
        command.location_id = location.ocpi_id
        command.country_code, command.party_id = location.country_code, location.party_id
        evse = _evse(location, data["evse_uid"]) if data.get("evse_uid") else None
        if evse is not None:
            command.evse_uid = evse.uid
            if data.get("connector_id"):
                command.connector_id = _connector(evse, data["connector_id"]).ocpi_id
            _capable(evse, kind)
        if kind == CommandType.START_SESSION:
            if evse is None:
                evse = _choose_evse(location, kind)
                command.evse_uid = evse.uid
            if "START_SESSION_CONNECTOR_REQUIRED" in (evse.capabilities or []) and not command.connector_id:
                raise _Refusal(CommandResponseType.REJECTED, f"EVSE {evse.uid} needs a connector_id")
        elif kind == CommandType.RESERVE_NOW:
            if evse is None:
                _choose_evse(location, kind)  # at least one reservable EVSE; the charge point picks a free one
            if data["expiry_date"] <= _now():
                raise _Refusal(CommandResponseType.REJECTED, "expiry_date is in the past")
    elif kind == CommandType.STOP_SESSION:
        session = session_get_for_partner(partner=partner, session_id=data["session_id"], party=to_party)
        if session is None:
            raise _Refusal(CommandResponseType.UNKNOWN_SESSION, f"Unknown session {data['session_id']}")
        command.charging_session = session
        command.session_id = session.ocpi_id
        command.country_code, command.party_id = session.country_code, session.party_id
        command.location_id, command.evse_uid = session.location_id, session.evse_uid
        if session.is_final:
            raise _Refusal(CommandResponseType.REJECTED, f"Session {session.ocpi_id} is already {session.status}")
    elif kind == CommandType.CANCEL_RESERVATION:
        reservation = reservation_get_active(partner, data["reservation_id"])
        if reservation is not None:
            command.location_id, command.evse_uid = reservation.location_id, reservation.evse_uid
            command.country_code, command.party_id = reservation.country_code, reservation.party_id


def _choose_evse(location: Any, command: str) -> Any:
    """No evse_uid given: the first capable EVSE, AVAILABLE ones first (commands.md 4.1: CPO's choice)."""
    capable = [e for e in location.evses.all() if CAPABILITY[command] in (e.capabilities or [])]
    if not capable:
        raise _Refusal(CommandResponseType.NOT_SUPPORTED, f"No EVSE at {location.ocpi_id} is {CAPABILITY[command]}")
    return sorted(capable, key=lambda e: (e.status != "AVAILABLE", e.pk))[0]


def command_receive(
    *,
    partner: Partner,
    command: str,
    data: Mapping[str, Any],
    body: Any,
    to_party: PartyRef | None = None,
    correlation_id: str = "",
) -> CommandRequest:
    """Receiver POST: check and store one command, with our synchronous CommandResponse.

    `data` is the command serializer's validated_data (the caller checked that a token belongs to `partner`).
    Unknown location/EVSE/connector: REJECTED with response_status_code 2003 (transport.md 13). STOP_SESSION of
    a session that is unknown or not of `partner`'s tokens: UNKNOWN_SESSION. ACCEPTED commands are executed by
    a Celery task after commit. The eMSP's token (START_SESSION, RESERVE_NOW) is stored/refreshed.
    """
    stored = CommandRequest(
        uid=uuid.uuid4().hex,
        direction=CommandDirection.RECEIVED,
        partner=partner,
        command=command,
        body=body if isinstance(body, dict) else {},
        response_url=data["response_url"],
        reservation_id=data.get("reservation_id", ""),
        session_id=data.get("session_id", ""),
        authorization_reference=data.get("authorization_reference", ""),
        token_uid=data["token"]["ocpi_id"] if data.get("token") else "",
        correlation_id=correlation_id or "",
        response_timeout=response_timeout(),
        response_status_code=1000,
        response_result=CommandResponseType.ACCEPTED,
    )
    try:
        _check(stored, data, partner, to_party)
    except _Refusal as refusal:
        stored.response_result = refusal.result
        stored.response_message = display_text(refusal.message)
        stored.response_status_code = refusal.status_code
        stored.response_timeout = 0
        stored.error = refusal.message
    with transaction.atomic():
        if data.get("token") is not None:
            _store_token(partner, data["token"])
        stored.save(force_insert=True)
        if stored.response_result == CommandResponseType.ACCEPTED:
            stored.deadline = _now() + timedelta(seconds=cast(int, stored.response_timeout))  # set above
            stored.save(update_fields=["deadline"])
            command_id = stored.pk
            enqueue_on_commit("sessions.tasks.command_execute", command_id=command_id)
    logger.info(
        "Command %s %s from partner %s: %s%s",
        command,
        stored.uid,
        partner.pk,
        stored.response_result,
        f" ({stored.error})" if stored.error else "",
    )
    return stored


def command_execute(*, command_id: int) -> str:
    """Run one accepted command through the gateway (outside any transaction), store the CommandResult and
    schedule its POST. Idempotent: a command that has a result already is left alone."""
    command = CommandRequest.objects.select_related("partner", "charging_session").filter(pk=command_id).first()
    if command is None or command.direction != CommandDirection.RECEIVED:
        return "skipped: unknown command"
    if command.result:
        return f"skipped: result {command.result} already known"
    data = command.body
    try:
        outcome = _execute(command, data)
    except Exception as exc:  # the gateway or a service failed: the eMSP still gets an answer
        logger.exception("Command %s failed", command.uid)
        outcome = GatewayResult(CommandResultType.FAILED, f"Internal error: {exc.__class__.__name__}")
    command_result_record(command, outcome)
    return f"{command.command}: {outcome.result}"


def _evse_of(command: CommandRequest) -> Any:
    return evse_at(
        country_code=command.country_code,
        party_id=command.party_id,
        location_id=command.location_id,
        evse_uid=command.evse_uid,
    )


def _execute(command: CommandRequest, data: Mapping[str, Any]) -> GatewayResult:
    from tokens.api.serializers import TokenSerializer

    gateway, timeout = get_gateway(), command_timeout()
    kind = command.command
    if kind == CommandType.START_SESSION:
        token = TokenSerializer(data=data["token"])
        token.is_valid(raise_exception=True)
        outcome = gateway.start_session(
            evse=_evse_of(command),
            connector_id=command.connector_id or None,
            cdr_token=cdr_token_of(token.validated_data),
            authorization_reference=command.authorization_reference or None,
            token_owner_partner_id=command.partner_id,
            timeout=timeout,
        )
        if outcome.data.get("session_pk"):
            command.charging_session = ChargingSession.objects.filter(pk=outcome.data["session_pk"]).first()
        return outcome
    if kind == CommandType.STOP_SESSION:
        session = cast(ChargingSession, command.charging_session)  # _check found it (STOP_SESSION needs one)
        return gateway.stop_session(session=session, timeout=timeout)
    if kind == CommandType.UNLOCK_CONNECTOR:
        return gateway.unlock_connector(evse=_evse_of(command), connector_id=command.connector_id, timeout=timeout)
    if kind == CommandType.RESERVE_NOW:
        return reservation_reserve_now(command, data, gateway, timeout)
    if kind == CommandType.CANCEL_RESERVATION:
        return reservation_cancel_by_emsp(command, gateway, timeout)
    return GatewayResult(CommandResultType.NOT_SUPPORTED, f"{kind} is not supported")
