"""OCPI 2.2.1 Commands (commands.md): the CPO Receiver (partners' eMSPs send us commands) and the eMSP Sender's
result endpoint (partner CPOs POST the CommandResult of a command we sent to the response_url we gave).

Request objects are validated strictly (sessions/commands/serializers.py). The synchronous answer is a
CommandResponse; the CommandResult follows from a Celery task.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.enums import Role
from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound, UnknownLocation
from ocpi_platform.ocpi.openapi import AnyOf, Op
from ocpi_platform.ocpi.views import RECEIVER, SENDER, OcpiView, ocpi_response
from sessions.commands.receiver import command_receive
from sessions.commands.sender import command_result_receive
from sessions.commands.serializers import (
    COMMAND_SERIALIZERS,
    CommandResultSerializer,
    command_kind,
    command_response_data,
)
from sessions.models import CommandRequest, CommandType

# --- CPO role: Commands Receiver ---------------------------------------------------------------------


class CommandReceiverBaseView(OcpiView):
    """The module's base URL, announced in our version details; commands are POSTed to `{base}/{command}`."""

    ocpi_endpoint = ("commands", RECEIVER)


class CommandReceiverView(OcpiView):
    """POST `{command}`: validate, check the objects, answer a CommandResponse; the CommandResult follows."""

    owner_roles = (Role.EMSP,)  # commands come from an eMSP, with its own tokens
    ocpi_operations = {
        "post": Op(
            "Send a command to one of our charge points (CPO Receiver); the body is the command's request object",
            request=AnyOf(tuple(COMMAND_SERIALIZERS.values())),
            data="sessions.commands.serializers.CommandResponseSerializer",
        )
    }

    def wire_request_kind(self) -> tuple[str, bool] | None:
        """The body is the command's request object (the URL names it): StartSession, StopSession, ..."""
        command = self.kwargs.get("command", "")
        return (command_kind(command), False) if command in COMMAND_SERIALIZERS else None

    def post(self, request: Request, command: str) -> Response:
        if command not in COMMAND_SERIALIZERS:
            raise InvalidParameters(
                f"Invalid or missing parameters: command: {command!r} is not a CommandType "
                f"({', '.join(CommandType.values)})"
            )
        if self.routing.from_party is not None:
            self.owned_party(self.routing.from_party.country_code, self.routing.from_party.party_id)
        serializer = COMMAND_SERIALIZERS[command](data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token = data.get("token")
        if token is not None:
            # commands.md 4.1: the eMSP only uses its own tokens (a party it holds as EMSP, not in another role).
            self.owned_party(token["country_code"], token["party_id"])
        stored = command_receive(
            partner=self.partner,
            command=command,
            data=data,
            body=request.data,
            to_party=self.routing.to_party,
            correlation_id=getattr(request._request, "ocpi_correlation_id", ""),
        )
        if stored.response_status_code == 2003:
            # transport.md 13 / commands.md 1: unknown location -> OCPI 2003 with a REJECTED CommandResponse.
            raise UnknownLocation(stored.error or "Unknown location", data=command_response_data(stored))
        return ocpi_response(command_response_data(stored))


# --- eMSP role: Commands Sender (the CommandResult of a command we sent) -----------------------------


class CommandSenderBaseView(OcpiView):
    """The module's base URL of our eMSP role; results arrive on `{base}/{command}/{uid}` (our response_url)."""

    ocpi_endpoint = ("commands", SENDER)


class CommandResultView(OcpiView):
    """POST `{command}/{uid}`: the CommandResult of one of our commands; only its CPO may post it."""

    ocpi_operations = {
        "post": Op("The CommandResult of a command we sent (eMSP Sender)", request=CommandResultSerializer)
    }

    def post(self, request: Request, command: str, uid: str) -> Response:
        serializer = CommandResultSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            command_result_receive(partner=self.partner, command=command, uid=uid, data=serializer.validated_data)
        except CommandRequest.DoesNotExist:
            raise ObjectNotFound(f"Unknown command {command}/{uid}") from None
        return ocpi_response()
