"""Commands (commands.md): the request objects we receive and send, the CommandResponse and the CommandResult.

Request objects are validated strictly (a number where a string is expected is 2001 naming the field; unknown
fields ignored). `command_body` builds the request object our eMSP sends; `command_response_data` and
`command_result_data` are the answers of our CPO as sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from rest_framework import serializers

from ocpi_platform.ocpi.envelope import format_datetime
from ocpi_platform.ocpi.fields import CiStringField, OcpiDateTimeField, OcpiStringField, StrictIntegerField
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


def display_text(text: str) -> list[dict[str, str]] | None:
    """A DisplayText list in English (max. 512 characters), None for no text."""
    return [{"language": "en", "text": text[:512]}] if text else None


def cdr_token_of(token: Mapping[str, Any]) -> dict[str, Any]:
    """TokenSerializer.validated_data -> CdrToken."""
    return {
        "country_code": token["country_code"],
        "party_id": token["party_id"],
        "uid": token["ocpi_id"],
        "type": token["type"],
        "contract_id": token["contract_id"],
    }


def command_body(
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
    """The request object our eMSP POSTs for `command` (commands.md 4); ValidationError names missing fields."""
    errors: dict[str, str] = {}
    needs_by_command: dict[str, dict[str, Any]] = {
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
    }
    needs = needs_by_command[command]
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
    allowed_by_command: dict[str, tuple[str, ...]] = {
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
    }
    allowed = allowed_by_command[command]
    body.update({name: optional[name] for name in allowed if optional[name]})
    return body


def command_kind(command: str) -> str:
    """The wire kind of a command's request object (ocpi_platform.ocpi.wire): START_SESSION -> StartSession."""
    return "".join(part.capitalize() for part in command.split("_"))
