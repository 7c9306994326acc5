"""eMSP role, Commands Sender (commands.md): `command_send` POSTs a command to a partner CPO with our own
response_url `{OCPI_BASE_URL}/ocpi/emsp/2.2.1/commands/{COMMAND}/{uid}`; `command_result_receive` stores the
CommandResult that arrives there; a command whose result is overdue (response timeout +
OCPI_COMMAND_RESULT_MARGIN_SECONDS) reads as TIMEOUT (`command_expire_overdue`, periodic, and `command_refresh`
on read).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from ocpi_platform.ocpi.client import OcpiClientError, join_url
from ocpi_platform.ocpi.enums import InterfaceRole, Role
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.paths import ocpi_path
from ocpi_platform.ocpi.wire import from_wire
from partners.models import Partner, PartnerRole, Party
from sessions.models import (
    ChargingSession,
    CommandDirection,
    CommandRequest,
    CommandResponseType,
    CommandResultType,
    CommandType,
)

from .serializers import CommandResponseSerializer, command_body, command_kind, display_text

logger = logging.getLogger(__name__)

DEFAULT_RESULT_MARGIN_SECONDS = 10  # eMSP: wait this long after the CPO's timeout before TIMEOUT


def _now() -> datetime:
    return timezone.now()


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
    from partners.client import partner_client, partner_version
    from partners.selectors import partner_endpoint_url
    from tokens.models import Token
    from tokens.selectors import token_get_for_authorization

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
    # The result comes back in the partner's version: our commands Sender of that version.
    response_url = ocpi_path("commands", InterfaceRole.SENDER, command, uid, version=partner_version(partner))
    body = command_body(
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
        answer = client.post(join_url(endpoint, command), json=body, expect_success=False, kind=command_kind(command))
    except OcpiClientError as exc:
        changes = {"error": f"POST {command}: {exc}", "response_status_code": exc.ocpi_status}
    else:
        changes["response_status_code"] = answer.status_code
        response = CommandResponseSerializer(data=from_wire("CommandResponse", answer.data, client.version))
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
        result_message=display_text("No CommandResult within the CPO's timeout"),
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
                result_message=display_text("No CommandResult within the CPO's timeout"),
                result_at=now,
                updated_at=now,
            )
    command.refresh_from_db()
    return command
