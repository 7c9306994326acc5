"""OCPI 2.2.1 Charging Profiles, CPO Receiver interface (chargingprofiles.md 3): a partner eMSP gets, sets or
clears the charging profile of an ongoing session of one of its tokens. Each request is answered with a
ChargingProfileResponse; the ActiveChargingProfileResult / ChargingProfileResult / ClearProfileResult follows
on the request's response_url from a Celery task."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.enums import Role
from ocpi_platform.ocpi.fields import INT32_MAX, OcpiDateTimeField, OcpiNumberField, StrictIntegerField
from ocpi_platform.ocpi.openapi import Op
from ocpi_platform.ocpi.views import RECEIVER, OcpiView, ocpi_response
from ocpi_platform.ocpi.wire import V221, V230
from sessions.api.serializers import EnumField
from sessions.commands.serializers import ResponseUrlField
from sessions.models import (
    ChargingProfileAction,
    ChargingProfileRequest,
    ChargingProfileResponseType,
    ChargingProfileResultType,
    ChargingRateUnit,
)


def _one_decimal(value: Decimal) -> None:
    if value != value.quantize(Decimal("0.1")):
        raise serializers.ValidationError("must have at most one decimal, e.g. 8.1")


class ChargingProfilePeriodSerializer(serializers.Serializer):
    start_period = StrictIntegerField(min_value=0)
    limit = OcpiNumberField(min_value=Decimal(0), validators=[_one_decimal])


class ChargingProfileSerializer(serializers.Serializer):
    """chargingprofiles.md 5 ChargingProfile; output leaves out the optional fields that are not set."""

    start_date_time = OcpiDateTimeField(required=False, allow_null=True)
    duration = StrictIntegerField(min_value=0, required=False, allow_null=True)
    charging_rate_unit = EnumField(choices=ChargingRateUnit.choices)
    min_charging_rate = OcpiNumberField(
        min_value=Decimal(0), validators=[_one_decimal], required=False, allow_null=True
    )
    charging_profile_period = ChargingProfilePeriodSerializer(many=True, required=False)

    def validate_charging_profile_period(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        starts = [period["start_period"] for period in value]
        if starts != sorted(set(starts)):
            raise serializers.ValidationError("start_period values must increase")
        if starts and starts[0] != 0:
            raise serializers.ValidationError("the first period must start at start_period 0")
        return value

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        return {key: value for key, value in data.items() if value is not None}


class SetChargingProfileSerializer(serializers.Serializer):
    charging_profile = ChargingProfileSerializer()
    response_url = ResponseUrlField()


class ActiveProfileQuerySerializer(serializers.Serializer):
    duration = serializers.IntegerField(min_value=1, max_value=INT32_MAX)  # seconds; stored as an int
    response_url = ResponseUrlField()


class ClearProfileQuerySerializer(serializers.Serializer):
    response_url = ResponseUrlField()


def charging_profile_response_data(request: ChargingProfileRequest) -> dict[str, Any]:
    return {"result": request.response_result, "timeout": request.response_timeout or 0}


class ChargingProfileReceiverBaseView(OcpiView):
    """The module's base URL, announced in our version details."""

    ocpi_versions = (V221, V230)  # not in OCPI 2.1.1

    ocpi_endpoint = ("chargingprofiles", RECEIVER)


_CHARGING_PROFILE_RESPONSE = {
    "type": "object",
    "required": ["result", "timeout"],
    "properties": {
        "result": {"$enum": "sessions.models.ChargingProfileResponseType"},
        "timeout": {"type": "integer", "minimum": 0},
    },
}


class ChargingProfileReceiverView(OcpiView):
    """GET / PUT / DELETE `{session_id}`."""

    ocpi_versions = (V221, V230)  # not in OCPI 2.1.1

    ocpi_operations = {
        "get": Op(
            "Ask for the ActiveChargingProfile of a Session (result on response_url)",
            data=_CHARGING_PROFILE_RESPONSE,
            query=("duration", "response_url"),
        ),
        "put": Op(
            "Set the charging profile of a Session (result on response_url)",
            request=SetChargingProfileSerializer,
            data=_CHARGING_PROFILE_RESPONSE,
        ),
        "delete": Op(
            "Clear the charging profile of a Session (result on response_url)",
            data=_CHARGING_PROFILE_RESPONSE,
            query=("response_url",),
        ),
    }

    owner_roles = (Role.EMSP, Role.SCSP)  # sent by the session's eMSP or a Smart Charging Service Provider

    def _receive(self, action: str, session_id: str, **fields: Any) -> Response:
        from sessions.chargingprofiles import charging_profile_receive

        if self.routing.from_party is not None:
            self.owned_party(self.routing.from_party.country_code, self.routing.from_party.party_id)
        stored = charging_profile_receive(
            partner=self.partner,
            action=action,
            session_id=session_id,
            to_party=self.routing.to_party,
            correlation_id=getattr(self.request._request, "ocpi_correlation_id", ""),
            **fields,
        )
        return ocpi_response(charging_profile_response_data(stored))

    def get(self, request: Request, session_id: str) -> Response:
        query = ActiveProfileQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return self._receive(
            ChargingProfileAction.GET,
            session_id,
            response_url=query.validated_data["response_url"],
            duration=query.validated_data["duration"],
        )

    def put(self, request: Request, session_id: str) -> Response:
        body = SetChargingProfileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        profile = ChargingProfileSerializer().to_representation(body.validated_data["charging_profile"])
        return self._receive(
            ChargingProfileAction.SET,
            session_id,
            response_url=body.validated_data["response_url"],
            charging_profile=profile,
        )

    def delete(self, request: Request, session_id: str) -> Response:
        query = ClearProfileQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        return self._receive(ChargingProfileAction.CLEAR, session_id, response_url=query.validated_data["response_url"])


__all__ = [
    "ChargingProfileReceiverBaseView",
    "ChargingProfileReceiverView",
    "ChargingProfileResponseType",
    "ChargingProfileResultType",
    "ChargingProfileSerializer",
]
