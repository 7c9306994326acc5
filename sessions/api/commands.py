"""OCPI 2.2.1 Commands (commands.md): the CPO Receiver (partners' eMSPs send us commands) and the eMSP Sender's
result endpoint (partner CPOs POST the CommandResult of a command we sent to the response_url we gave).

Request objects are validated strictly (a number where a string is expected is 2001 naming the field; unknown
fields ignored). The synchronous answer is a CommandResponse; the CommandResult follows from a Celery task.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import URLValidator
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound, UnknownLocation
from ocpi_platform.ocpi.fields import CiStringField, OcpiDateTimeField, OcpiStringField, StrictIntegerField
from ocpi_platform.ocpi.views import RECEIVER, SENDER, OcpiView, ocpi_response
from partners.models import Role
from sessions.api.serializers import EnumField
from sessions.models import CommandRequest, CommandResponseType, CommandResultType, CommandType
from tokens.api.serializers import DisplayTextSerializer, TokenSerializer


class ResponseUrlField(OcpiStringField):
    """URL (transport.md 11): an absolute http(s) URL; whether we may call it is the client's check."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        super().__init__(validators=[URLValidator(schemes=["http", "https"])], **kwargs)


class _Optional(serializers.Serializer):
    """Optional fields sent as null count as absent."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        return {key: item for key, item in value.items() if item is not None}


class StartSessionSerializer(_Optional):
    """commands.md 4.1."""

    response_url = ResponseUrlField()
    token = TokenSerializer()
    location_id = CiStringField(max_length=36)
    evse_uid = CiStringField(max_length=36, required=False, allow_null=True)
    connector_id = CiStringField(max_length=36, required=False, allow_null=True)
    authorization_reference = CiStringField(max_length=36, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("connector_id") and not attrs.get("evse_uid"):
            raise serializers.ValidationError({"evse_uid": "is required when connector_id is given"})
        return attrs


class StopSessionSerializer(_Optional):
    """commands.md 4.2."""

    response_url = ResponseUrlField()
    session_id = CiStringField(max_length=36)


class ReserveNowSerializer(_Optional):
    """commands.md 4.3."""

    response_url = ResponseUrlField()
    token = TokenSerializer()
    expiry_date = OcpiDateTimeField()
    reservation_id = CiStringField(max_length=36)
    location_id = CiStringField(max_length=36)
    evse_uid = CiStringField(max_length=36, required=False, allow_null=True)
    authorization_reference = CiStringField(max_length=36, required=False, allow_null=True)


class CancelReservationSerializer(_Optional):
    """commands.md 4.4."""

    response_url = ResponseUrlField()
    reservation_id = CiStringField(max_length=36)


class UnlockConnectorSerializer(_Optional):
    """commands.md 4.5."""

    response_url = ResponseUrlField()
    location_id = CiStringField(max_length=36)
    evse_uid = CiStringField(max_length=36)
    connector_id = CiStringField(max_length=36)


COMMAND_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    CommandType.START_SESSION: StartSessionSerializer,
    CommandType.STOP_SESSION: StopSessionSerializer,
    CommandType.RESERVE_NOW: ReserveNowSerializer,
    CommandType.CANCEL_RESERVATION: CancelReservationSerializer,
    CommandType.UNLOCK_CONNECTOR: UnlockConnectorSerializer,
}


class CommandResponseSerializer(_Optional):
    """commands.md 4.6 (synchronous answer)."""

    result = EnumField(choices=CommandResponseType.choices)
    timeout = StrictIntegerField(min_value=0)
    message = DisplayTextSerializer(many=True, required=False, allow_null=True)


class CommandResultSerializer(_Optional):
    """commands.md 4.7 (asynchronous result)."""

    result = EnumField(choices=CommandResultType.choices)
    message = DisplayTextSerializer(many=True, required=False, allow_null=True)


def command_response_data(command: CommandRequest) -> dict[str, Any]:
    """The CommandResponse of a received command, as sent."""
    data: dict[str, Any] = {"result": command.response_result, "timeout": command.response_timeout or 0}
    if command.response_message:
        data["message"] = command.response_message
    return data


def command_result_data(command: CommandRequest) -> dict[str, Any]:
    """The CommandResult of a received command, as POSTed to its response_url."""
    data: dict[str, Any] = {"result": command.result}
    if command.result_message:
        data["message"] = command.result_message
    return data


# --- CPO role: Commands Receiver ---------------------------------------------------------------------


class CommandReceiverBaseView(OcpiView):
    """The module's base URL, announced in our version details; commands are POSTed to `{base}/{command}`."""

    ocpi_endpoint = ("commands", RECEIVER)


class CommandReceiverView(OcpiView):
    """POST `{command}`: validate, check the objects, answer a CommandResponse; the CommandResult follows."""

    owner_roles = (Role.EMSP,)  # commands come from an eMSP, with its own tokens

    def post(self, request: Request, command: str) -> Response:
        from sessions.commands import command_receive

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

    def post(self, request: Request, command: str, uid: str) -> Response:
        from sessions.commands import command_result_receive

        serializer = CommandResultSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            command_result_receive(partner=self.partner, command=command, uid=uid, data=serializer.validated_data)
        except CommandRequest.DoesNotExist:
            raise ObjectNotFound(f"Unknown command {command}/{uid}") from None
        return ocpi_response()
