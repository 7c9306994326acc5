"""Commands (commands.md), both roles of this platform.

CPO role, Commands Receiver: `command_receive` checks a command a partner eMSP sent and stores it with our
synchronous CommandResponse; if ACCEPTED a Celery task runs `command_execute` (the charge point gateway, at
most OCPI_COMMAND_TIMEOUT_SECONDS, else TIMEOUT) and then `command_post_result` POSTs the CommandResult to the
eMSP's response_url (retried with backoff on transient errors).

eMSP role, Commands Sender: `command_send` POSTs a command to a partner CPO with our own response_url
`{OCPI_BASE_URL}/ocpi/emsp/2.2.1/commands/{COMMAND}/{uid}`; `command_result_receive` stores the CommandResult
that arrives there; a command whose result is overdue (response timeout + OCPI_COMMAND_RESULT_MARGIN_SECONDS)
reads as TIMEOUT (`command_expire_overdue`, periodic, and `command_refresh` on read).
"""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ocpi_platform.ocpi.client import OcpiClientError, OcpiTransientError, join_url
from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Partner, PartnerRole, Party, Role

from .gateway import GatewayResult, command_timeout, get_gateway
from .models import (
    ChargingSession,
    CommandDirection,
    CommandRequest,
    CommandResponseType,
    CommandResultType,
    CommandType,
    Reservation,
    ReservationStatus,
    SessionStatus,
)
from .tasks import command_execute as command_execute_task
from .tasks import command_post_result as command_post_result_task

logger = logging.getLogger(__name__)

UNKNOWN_LOCATION = 2003
RESPONSE_MARGIN_SECONDS = 5  # what we add to the charge point's timeout in our CommandResponse
DEFAULT_RESULT_MARGIN_SECONDS = 10  # eMSP: wait this long after the CPO's timeout before TIMEOUT
CAPABILITY = {
    CommandType.START_SESSION: "REMOTE_START_STOP_CAPABLE",
    CommandType.RESERVE_NOW: "RESERVABLE",
    CommandType.UNLOCK_CONNECTOR: "UNLOCK_CAPABLE",
}


def _now() -> datetime:
    return timezone.now()


def _message(text: str) -> list[dict[str, str]] | None:
    return [{"language": "en", "text": text[:512]}] if text else None


def response_timeout() -> int:
    """The `timeout` of our CommandResponses: the charge point's time plus our delivery of the result."""
    return math.ceil(command_timeout()) + RESPONSE_MARGIN_SECONDS


def _cdr_token(token: Mapping[str, Any]) -> dict[str, Any]:
    """TokenSerializer.validated_data -> CdrToken."""
    return {
        "country_code": token["country_code"],
        "party_id": token["party_id"],
        "uid": token["ocpi_id"],
        "type": token["type"],
        "contract_id": token["contract_id"],
    }


def _store_token(partner: Partner, token: Mapping[str, Any]) -> None:
    """Keep the eMSP's token in our cache (refreshed by last_updated); our own eMSP's tokens are ours already."""
    from tokens.services import TokenPartyNotAllowedError, token_store_received

    with contextlib.suppress(TokenPartyNotAllowedError):
        token_store_received(
            partner=partner,
            country_code=token["country_code"],
            party_id=token["party_id"],
            uid=token["ocpi_id"],
            type=token["type"],
            data=token,
        )


# --- CPO role: Commands Receiver -----------------------------------------------------------------------


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
        from sessions.selectors import session_get_for_partner

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
        reservation = _reservation_of(partner, data["reservation_id"])
        if reservation is not None:
            command.location_id, command.evse_uid = reservation.location_id, reservation.evse_uid
            command.country_code, command.party_id = reservation.country_code, reservation.party_id


def _choose_evse(location: Any, command: str) -> Any:
    """No evse_uid given: the first capable EVSE, AVAILABLE ones first (commands.md 4.1: CPO's choice)."""
    capable = [e for e in location.evses.all() if CAPABILITY[command] in (e.capabilities or [])]
    if not capable:
        raise _Refusal(CommandResponseType.NOT_SUPPORTED, f"No EVSE at {location.ocpi_id} is {CAPABILITY[command]}")
    return sorted(capable, key=lambda e: (e.status != "AVAILABLE", e.pk))[0]


def _reservation_of(partner: Partner, reservation_id: str) -> Reservation | None:
    return (
        Reservation.objects.filter(
            partner=partner, reservation_id__iexact=reservation_id, status=ReservationStatus.ACTIVE
        )
        .order_by("-pk")
        .first()
    )


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
        stored.response_message = _message(refusal.message)
        stored.response_status_code = refusal.status_code
        stored.response_timeout = 0
        stored.error = refusal.message
    with transaction.atomic():
        if data.get("token") is not None:
            _store_token(partner, data["token"])
        stored.save(force_insert=True)
        if stored.response_result == CommandResponseType.ACCEPTED:
            stored.deadline = _now() + timedelta(seconds=stored.response_timeout)
            stored.save(update_fields=["deadline"])
            command_id = stored.pk
            transaction.on_commit(lambda: command_execute_task.delay(command_id=command_id))
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
    _record_result(command, outcome)
    return f"{command.command}: {outcome.result}"


def _record_result(command: CommandRequest, outcome: GatewayResult) -> None:
    with transaction.atomic():
        updated = CommandRequest.objects.filter(pk=command.pk, result="").update(
            result=outcome.result,
            result_message=_message(outcome.message),
            result_at=_now(),
            charging_session=command.charging_session,
            updated_at=_now(),
        )
        if updated:
            command_id = command.pk
            transaction.on_commit(lambda: command_post_result_task.delay(command_id=command_id))


def command_result_post_later(*, command: CommandRequest, result: str, message: Any = None) -> None:
    """A later CommandResult for a command we received, POSTed to its response_url after commit (retried like
    the first): CANCELED_RESERVATION at a RESERVE_NOW's response_url (sessions/reservations.py)."""
    CommandRequest.objects.filter(pk=command.pk).update(
        result=result, result_message=message, result_at=_now(), posted_at=None, post_attempts=0, error="",
        updated_at=_now(),
    )  # fmt: skip
    command_id = command.pk
    transaction.on_commit(lambda: command_post_result_task.delay(command_id=command_id))


def _evse_at(*, country_code: str, party_id: str, location_id: str, evse_uid: str) -> Any:
    from locations.selectors import evse_get, location_get

    if not evse_uid:
        return None
    location = location_get(country_code=country_code, party_id=party_id, location_id=location_id)
    return evse_get(location=location, evse_uid=evse_uid) if location else None


def _evse_of(command: CommandRequest) -> Any:
    return _evse_at(
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
            cdr_token=_cdr_token(token.validated_data),
            authorization_reference=command.authorization_reference or None,
            token_owner_partner_id=command.partner_id,
            timeout=timeout,
        )
        if outcome.data.get("session_pk"):
            command.charging_session = ChargingSession.objects.filter(pk=outcome.data["session_pk"]).first()
        return outcome
    if kind == CommandType.STOP_SESSION:
        return gateway.stop_session(session=command.charging_session, timeout=timeout)
    if kind == CommandType.UNLOCK_CONNECTOR:
        return gateway.unlock_connector(evse=_evse_of(command), connector_id=command.connector_id, timeout=timeout)
    if kind == CommandType.RESERVE_NOW:
        return _reserve(command, data, gateway, timeout)
    if kind == CommandType.CANCEL_RESERVATION:
        return _cancel_reservation(command, gateway, timeout)
    return GatewayResult(CommandResultType.NOT_SUPPORTED, f"{kind} is not supported")


def _reserve(command: CommandRequest, data: Mapping[str, Any], gateway: Any, timeout: float) -> GatewayResult:
    """RESERVE_NOW: the same partner, location and reservation_id replace the reservation (same charge point id)."""
    from ocpi_platform.ocpi.fields import parse_datetime
    from tokens.api.serializers import TokenSerializer

    token = TokenSerializer(data=data["token"])
    token.is_valid(raise_exception=True)
    expiry = parse_datetime(data["expiry_date"])
    reservation, created = Reservation.objects.get_or_create(
        partner=command.partner,
        location_id__iexact=command.location_id,
        reservation_id__iexact=command.reservation_id,
        defaults={
            "location_id": command.location_id,
            "reservation_id": command.reservation_id,
            "country_code": command.country_code,
            "party_id": command.party_id,
            "evse_uid": command.evse_uid,
            "cdr_token": _cdr_token(token.validated_data),
            "authorization_reference": command.authorization_reference,
            "expiry_date": expiry,
            "command": command,
        },
    )
    replacing = not created and reservation.status == ReservationStatus.ACTIVE
    outcome = gateway.reserve_now(reservation=reservation, evse=_evse_of(command), expiry_date=expiry, timeout=timeout)
    if not outcome.accepted:
        if not replacing:
            Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.FAILED, command=command)
        return outcome
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation.pk)
        reservation.evse_uid = outcome.data.get("evse_uid", command.evse_uid)
        reservation.cdr_token = _cdr_token(token.validated_data)
        reservation.authorization_reference = command.authorization_reference
        reservation.expiry_date = expiry
        reservation.status = ReservationStatus.ACTIVE
        reservation.command = command
        reservation.session = _reservation_session(reservation, command)
        reservation.save()
        command.charging_session = reservation.session
    return outcome


def _reservation_session(reservation: Reservation, command: CommandRequest) -> ChargingSession:
    """commands.md 4.3: a successful reservation gives a Session with status RESERVATION."""
    from .selectors import connector_for, evse_currency
    from .services import session_start, session_update

    evse = _evse_at(
        country_code=reservation.country_code,
        party_id=reservation.party_id,
        location_id=reservation.location_id,
        evse_uid=reservation.evse_uid,
    )
    connector = connector_for(evse, None) if evse is not None else None
    session = reservation.session
    if session is not None and session.status == SessionStatus.RESERVATION:
        return session_update(
            session=session,
            evse_uid=reservation.evse_uid or "#NA",
            connector_id=connector.ocpi_id if connector else "#NA",
            authorization_reference=reservation.authorization_reference or None,
        )
    return session_start(
        country_code=reservation.country_code,
        party_id=reservation.party_id,
        location_id=reservation.location_id,
        evse_uid=reservation.evse_uid or "#NA",
        connector_id=connector.ocpi_id if connector else "#NA",
        cdr_token=reservation.cdr_token,
        auth_method="COMMAND",
        authorization_reference=reservation.authorization_reference or None,
        start_date_time=_now(),
        currency=evse_currency(evse, connector) if connector else getattr(settings, "OCPI_DEFAULT_CURRENCY", "EUR"),
        token_owner_partner=command.partner,
        status=SessionStatus.RESERVATION,
    )


def _cancel_reservation(command: CommandRequest, gateway: Any, timeout: float) -> GatewayResult:
    from .reservations import reservation_session_complete

    reservation = _reservation_of(command.partner, command.reservation_id)
    if reservation is None:
        # The charge point never got a reservation for this (partner, reservation_id).
        return GatewayResult(CommandResultType.UNKNOWN_RESERVATION, f"Unknown reservation {command.reservation_id}")
    outcome = gateway.cancel_reservation(reservation=reservation, timeout=timeout)
    if outcome.accepted:
        with transaction.atomic():
            Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.CANCELLED)
            completed = reservation_session_complete(reservation, _now())
            if completed is not None:
                command.charging_session = completed
    return outcome


def _emsp_party(command: CommandRequest) -> PartyRef | None:
    """Whom a CommandResult is addressed to (OCPI-to-*): the token's eMSP, else the partner's eMSP role."""
    token = (command.body or {}).get("token")
    if isinstance(token, dict) and token.get("country_code") and token.get("party_id"):
        return PartyRef.of(token["country_code"], token["party_id"])
    session = command.charging_session
    if session is not None:
        return PartyRef.of(session.token_country_code, session.token_party_id)
    role = PartnerRole.objects.filter(partner=command.partner, role=Role.EMSP).order_by("pk").first()
    return PartyRef.of(role.country_code, role.party_id) if role else None


def command_post_result(*, command_id: int) -> str:
    """POST the CommandResult of a received command to its response_url (commands.md 3), once.

    Transient failures (timeouts, 5xx, 429, OCPI 3000) raise OcpiTransientError for the task to retry; anything
    else (a refused URL, 4xx, OCPI 2xxx) is recorded and not retried.
    """
    from partners.services import partner_client

    from .api.commands import command_result_data

    command = CommandRequest.objects.select_related("partner", "charging_session").filter(pk=command_id).first()
    if command is None or not command.result:
        return "skipped: no result"
    if command.posted_at is not None:
        return "skipped: already posted"
    client = partner_client(
        command.partner,
        from_party=PartyRef.of(command.country_code, command.party_id) if command.country_code else None,
        to_party=_emsp_party(command),
        correlation_id=command.correlation_id or None,
    )
    CommandRequest.objects.filter(pk=command.pk).update(post_attempts=command.post_attempts + 1)
    try:
        client.post(command.response_url, json=command_result_data(command))
    except OcpiTransientError as exc:
        CommandRequest.objects.filter(pk=command.pk).update(error=f"POST result: {exc}")
        raise
    except OcpiClientError as exc:
        CommandRequest.objects.filter(pk=command.pk).update(error=f"POST result refused: {exc}")
        logger.warning("CommandResult of %s not delivered: %s", command.uid, exc)
        return f"failed: {exc}"
    CommandRequest.objects.filter(pk=command.pk).update(posted_at=_now(), error="")
    return f"posted {command.result}"


# --- eMSP role: Commands Sender ------------------------------------------------------------------------


def result_margin() -> float:
    return float(getattr(settings, "OCPI_COMMAND_RESULT_MARGIN_SECONDS", DEFAULT_RESULT_MARGIN_SECONDS))


def _our_emsp_party(country_code: str | None = None, party_id: str | None = None) -> Party:
    parties = Party.objects.filter(role=Role.EMSP, active=True)
    if country_code and party_id:
        parties = parties.filter(country_code=country_code.upper(), party_id=party_id.upper())
    party = parties.order_by("pk").first()
    if party is None:
        raise ValidationError({"token": "no active eMSP party of ours for this command"})
    return party


def _partner_cpo(partner: Partner, session: ChargingSession | None, location_id: str | None = None) -> PartyRef | None:
    """Whom a command is addressed to (OCPI-to-*): the session's CPO, else the CPO the location was received from
    (through a Hub: the party behind it), else the partner's first CPO role."""
    if session is not None:
        return PartyRef.of(session.country_code, session.party_id)
    if location_id:
        from locations.models import Location

        owner = (
            Location.objects.filter(received_from=partner, ocpi_id__iexact=location_id)
            .order_by("pk")
            .values_list("country_code", "party_id")
            .first()
        )
        if owner is not None:
            return PartyRef.of(*owner)
    role = PartnerRole.objects.filter(partner=partner, role=Role.CPO).order_by("pk").first()
    return PartyRef.of(role.country_code, role.party_id) if role else None


def _sender_body(
    command: str,
    *,
    response_url: str,
    token: Any,
    location_id: str | None,
    evse_uid: str | None,
    connector_id: str | None,
    session_id: str | None,
    reservation_id: str | None,
    expiry_date: datetime | None,
    authorization_reference: str | None,
) -> dict[str, Any]:
    from ocpi_platform.ocpi.envelope import format_datetime
    from tokens.api.serializers import TokenSerializer

    errors: dict[str, str] = {}
    needs = {
        CommandType.START_SESSION: {"token": token, "location_id": location_id},
        CommandType.STOP_SESSION: {"session_id": session_id},
        CommandType.RESERVE_NOW: {
            "token": token,
            "location_id": location_id,
            "reservation_id": reservation_id,
            "expiry_date": expiry_date,
        },
        CommandType.CANCEL_RESERVATION: {"reservation_id": reservation_id},
        CommandType.UNLOCK_CONNECTOR: {"location_id": location_id, "evse_uid": evse_uid, "connector_id": connector_id},
    }[command]
    for name, value in needs.items():
        if not value:
            errors[name] = f"is required for {command}"
    if command == CommandType.START_SESSION and connector_id and not evse_uid:
        errors["evse_uid"] = "is required when connector_id is given"
    if errors:
        raise ValidationError(errors)
    body: dict[str, Any] = {"response_url": response_url}
    if token is not None and command in (CommandType.START_SESSION, CommandType.RESERVE_NOW):
        body["token"] = TokenSerializer(token).data
    optional = {
        "location_id": location_id,
        "evse_uid": evse_uid,
        "connector_id": connector_id,
        "session_id": session_id,
        "reservation_id": reservation_id,
        "authorization_reference": authorization_reference,
        "expiry_date": format_datetime(expiry_date) if expiry_date else None,
    }
    allowed = {
        CommandType.START_SESSION: ("location_id", "evse_uid", "connector_id", "authorization_reference"),
        CommandType.STOP_SESSION: ("session_id",),
        CommandType.RESERVE_NOW: (
            "expiry_date",
            "reservation_id",
            "location_id",
            "evse_uid",
            "authorization_reference",
        ),
        CommandType.CANCEL_RESERVATION: ("reservation_id",),
        CommandType.UNLOCK_CONNECTOR: ("location_id", "evse_uid", "connector_id"),
    }[command]
    body.update({name: optional[name] for name in allowed if optional[name]})
    return body


def command_send(
    *,
    partner: Partner,
    command: str,
    location_id: str | None = None,
    evse_uid: str | None = None,
    connector_id: str | None = None,
    token: Any = None,
    token_type: str = "RFID",
    session_id: str | None = None,
    reservation_id: str | None = None,
    expiry_date: datetime | None = None,
    authorization_reference: str | None = None,
) -> CommandRequest:
    """Send one command to a partner CPO (Commands Sender, eMSP role) and store its CommandResponse.

    `token` is one of our eMSP's Token rows or its uid (with `token_type`). The command row is committed before
    the POST, so the CommandResult may arrive on our callback while we still wait for the CommandResponse.
    A refused or failed POST is recorded in `error` (and response_status_code), never raised; bad arguments
    raise ValidationError naming them. Do not call inside a transaction.
    """
    from partners.selectors import partner_endpoint_url
    from partners.services import partner_client
    from tokens.models import Token
    from tokens.selectors import token_get_for_authorization

    from .api.commands import CommandResponseSerializer

    if command not in CommandType.values:
        raise ValidationError({"command": f"{command!r} is not a CommandType"})
    endpoint = partner_endpoint_url(partner=partner, identifier="commands", role="RECEIVER")
    if not endpoint:
        raise ValidationError({"partner": f"{partner} has no commands RECEIVER endpoint"})
    if isinstance(token, str) and token:
        found = token_get_for_authorization(uid=token, type=token_type)
        if found is None:
            raise ValidationError({"token": f"{token!r} is not one of our eMSP tokens"})
        token = found
    if token is not None and not isinstance(token, Token):
        raise ValidationError({"token": "must be one of our eMSP tokens"})
    session = None
    if session_id:
        from sessions.selectors import session_list_received

        session = session_list_received(partner=partner).filter(ocpi_id__iexact=session_id).first()
    uid = uuid.uuid4().hex
    response_url = f"{settings.OCPI_BASE_URL}/ocpi/emsp/2.2.1/commands/{command}/{uid}"
    body = _sender_body(
        command,
        response_url=response_url,
        token=token,
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
        session_id=session_id,
        reservation_id=reservation_id,
        expiry_date=expiry_date,
        authorization_reference=authorization_reference,
    )
    to_party = _partner_cpo(partner, session, location_id)
    from_party = _our_emsp_party(token.country_code, token.party_id) if token is not None else _our_emsp_party()
    stored = CommandRequest.objects.create(
        uid=uid,
        direction=CommandDirection.SENT,
        partner=partner,
        command=command,
        body=body,
        response_url=response_url,
        country_code=to_party.country_code if to_party else "",
        party_id=to_party.party_id if to_party else "",
        location_id=location_id or "",
        evse_uid=evse_uid or "",
        connector_id=connector_id or "",
        session_id=session_id or "",
        reservation_id=reservation_id or "",
        token_uid=token.ocpi_id if token is not None else "",
        authorization_reference=authorization_reference or "",
        charging_session=session,
    )
    client = partner_client(
        partner, from_party=PartyRef.of(from_party.country_code, from_party.party_id), to_party=to_party
    )
    changes: dict[str, Any] = {}
    try:
        answer = client.post(join_url(endpoint, command), json=body, expect_success=False)
    except OcpiClientError as exc:
        changes = {"error": f"POST {command}: {exc}", "response_status_code": exc.ocpi_status}
    else:
        changes["response_status_code"] = answer.status_code
        response = CommandResponseSerializer(data=answer.data)
        if response.is_valid():
            changes["response_result"] = response.validated_data["result"]
            changes["response_timeout"] = response.validated_data["timeout"]
            changes["response_message"] = response.validated_data.get("message")
        if answer.http_status >= 300 or answer.status_code != 1000:
            changes["error"] = (
                f"POST {command}: HTTP {answer.http_status}, OCPI {answer.status_code}: {answer.status_message or ''}"
            ).strip()
        elif not response.is_valid():
            changes["error"] = f"Invalid CommandResponse: {response.errors}"
        if changes.get("response_result") == CommandResponseType.ACCEPTED:
            changes["deadline"] = _now() + timedelta(seconds=changes["response_timeout"] + result_margin())
    CommandRequest.objects.filter(pk=stored.pk).update(**changes, updated_at=_now())
    stored.refresh_from_db()
    logger.info("Sent %s %s to partner %s: %s %s", command, uid, partner.pk, stored.response_result, stored.error)
    return stored


def command_result_receive(*, partner: Partner, command: str, uid: str, data: Mapping[str, Any]) -> CommandRequest:
    """Our callback (response_url): the CommandResult of a command we sent. Only the partner we sent it to may
    post it; a late result replaces a TIMEOUT (commands.md 6). Raises CommandRequest.DoesNotExist otherwise."""
    stored = CommandRequest.objects.filter(
        uid=uid, direction=CommandDirection.SENT, partner=partner, command=command
    ).first()
    if stored is None:
        raise CommandRequest.DoesNotExist(f"Unknown command {command}/{uid} for partner {partner.pk}")
    stored.result = data["result"]
    stored.result_message = data.get("message")
    stored.result_at = _now()
    stored.save(update_fields=["result", "result_message", "result_at", "updated_at"])
    logger.info("CommandResult %s for %s %s from partner %s", stored.result, command, uid, partner.pk)
    return stored


def command_expire_overdue(*, now: datetime | None = None) -> int:
    """Mark SENT commands whose CommandResult is overdue as TIMEOUT (periodic task); returns how many."""
    now = now or _now()
    return CommandRequest.objects.filter(
        direction=CommandDirection.SENT, result="", deadline__isnull=False, deadline__lt=now
    ).update(
        result=CommandResultType.TIMEOUT,
        result_message=_message("No CommandResult within the CPO's timeout"),
        result_at=now,
        updated_at=now,
    )


def command_refresh(*, command: CommandRequest) -> CommandRequest:
    """Re-read a command; a SENT one whose result is overdue reads (and is stored) as TIMEOUT."""
    command.refresh_from_db()
    if command.direction == CommandDirection.SENT and not command.result and command.deadline:
        now = _now()
        if command.deadline < now:
            CommandRequest.objects.filter(pk=command.pk, result="").update(
                result=CommandResultType.TIMEOUT,
                result_message=_message("No CommandResult within the CPO's timeout"),
                result_at=now,
                updated_at=now,
            )
    command.refresh_from_db()
    return command
