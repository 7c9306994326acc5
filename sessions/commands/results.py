"""CPO role: the CommandResult of a command we received (commands.md 3).

`command_result_record` stores the charge point's answer and, after commit, a Celery task runs
`command_post_result`: the POST of the CommandResult to the eMSP's response_url (retried with backoff on
transient errors). `response_timeout` is the `timeout` of our CommandResponses (charging profiles use it too).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from ocpi_platform.dispatch import enqueue_on_commit
from ocpi_platform.ocpi.client import OcpiClientError, OcpiTransientError
from ocpi_platform.ocpi.headers import PartyRef
from partners.models import PartnerRole, Role
from sessions.gateway import GatewayResult, command_timeout
from sessions.models import CommandRequest

from .serializers import command_result_data, display_text

logger = logging.getLogger(__name__)

RESPONSE_MARGIN_SECONDS = 5  # what we add to the charge point's timeout in our CommandResponse


def _now() -> datetime:
    return timezone.now()


def response_timeout() -> int:
    """The `timeout` of our CommandResponses: the charge point's time plus our delivery of the result."""
    return math.ceil(command_timeout()) + RESPONSE_MARGIN_SECONDS


def command_result_record(command: CommandRequest, outcome: GatewayResult) -> None:
    """Store the charge point's answer to a received command (once) and POST it after commit."""
    with transaction.atomic():
        updated = CommandRequest.objects.filter(pk=command.pk, result="").update(
            result=outcome.result,
            result_message=display_text(outcome.message),
            result_at=_now(),
            charging_session=command.charging_session,
            updated_at=_now(),
        )
        if updated:
            command_id = command.pk
            enqueue_on_commit("sessions.tasks.command_post_result", command_id=command_id)


def command_result_post_later(*, command: CommandRequest, result: str, message: Any = None) -> None:
    """A later CommandResult for a command we received, POSTed to its response_url after commit (retried like
    the first): CANCELED_RESERVATION at a RESERVE_NOW's response_url (sessions/reservations.py)."""
    CommandRequest.objects.filter(pk=command.pk).update(
        result=result, result_message=message, result_at=_now(), posted_at=None, post_attempts=0, error="",
        updated_at=_now(),
    )  # fmt: skip
    command_id = command.pk
    enqueue_on_commit("sessions.tasks.command_post_result", command_id=command_id)


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
    from partners.client import partner_client

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
        client.post(command.response_url, json=command_result_data(command), kind="CommandResult")
    except OcpiTransientError as exc:
        CommandRequest.objects.filter(pk=command.pk).update(error=f"POST result: {exc}")
        raise
    except OcpiClientError as exc:
        CommandRequest.objects.filter(pk=command.pk).update(error=f"POST result refused: {exc}")
        logger.warning("CommandResult of %s not delivered: %s", command.uid, exc)
        return f"failed: {exc}"
    CommandRequest.objects.filter(pk=command.pk).update(posted_at=_now(), error="")
    return f"posted {command.result}"
