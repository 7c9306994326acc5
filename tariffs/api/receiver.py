"""Tariffs module, Receiver interface (eMSP role): partner CPOs push and delete their tariffs (tariffs.md 3).

URL `{tariffs_endpoint_url}/{country_code}/{party_id}/{tariff_id}`. The URL party must be one the caller
registered and never one of ours (else HTTP 404, nothing stored); the body's ids must equal the URL's (2001
naming the field); GET/DELETE of an unknown tariff is HTTP 404, OCPI 2000, and so is one another partner sent
(the same message); a PUT over another partner's tariff is HTTP 404, OCPI 2000 "... cannot be written by this
partner". A PUT older than the tariff we hold is ignored and answered 1000 (tariffs.services.tariff_receive).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.enums import Role
from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound
from ocpi_platform.ocpi.openapi import Op
from ocpi_platform.ocpi.views import RECEIVER, OcpiView, ocpi_response

from ..models import Tariff
from ..services import (
    TariffNotAllowedError,
    TariffObjectNotAllowedError,
    tariff_get_received,
    tariff_receive,
    tariff_receive_delete,
)
from .serializers import TariffSerializer, tariff_to_ocpi


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return "; ".join(exc.messages)


class TariffReceiverBaseView(OcpiView):
    """The module's base URL, announced in our version details; the Receiver has no method on it."""

    ocpi_endpoint = ("tariffs", RECEIVER)


class TariffReceiverObjectView(OcpiView):
    owner_roles = (Role.CPO, Role.NAP)  # a Tariff belongs to a CPO (a NAP republishes them, like locations)
    ocpi_operations = {
        "get": Op("A Tariff the caller pushed (eMSP Receiver)", data=TariffSerializer),
        "put": Op("Push a whole Tariff", request=TariffSerializer, created=True),
        "delete": Op("Delete a Tariff the caller pushed"),
    }
    """GET/PUT/DELETE `{country_code}/{party_id}/{tariff_id}` (there is no PATCH for tariffs since 2.2)."""

    def get(self, request: Request, country_code: str, party_id: str, tariff_id: str) -> Response:
        party = self.owned_party(country_code, party_id)
        try:
            tariff = tariff_get_received(
                partner=self.partner, country_code=party.country_code, party_id=party.party_id, tariff_id=tariff_id
            )
        except TariffObjectNotAllowedError:
            tariff = None  # another partner's: exactly as unknown
        except TariffNotAllowedError as exc:
            raise ObjectNotFound(str(exc)) from None
        if tariff is None:
            raise ObjectNotFound(f"Unknown tariff {party}/{tariff_id}")
        return ocpi_response(tariff_to_ocpi(tariff))

    def put(self, request: Request, country_code: str, party_id: str, tariff_id: str) -> Response:
        party = self.owned_party(country_code, party_id)
        serializer = TariffSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        expected = {
            "country_code": ("country_code", party.country_code),
            "party_id": ("party_id", party.party_id),
            "id": ("ocpi_id", tariff_id),
        }
        for spec_name, (model_name, url_value) in expected.items():
            if data[model_name].upper() != url_value.upper():
                raise InvalidParameters(
                    f"Invalid or missing parameters: {spec_name}: {data[model_name]!r} does not match the URL "
                    f"({url_value!r})"
                )
        try:
            created = tariff_receive(
                partner=self.partner,
                country_code=party.country_code,
                party_id=party.party_id,
                tariff_id=tariff_id,
                data=data,
            ).created
        except TariffNotAllowedError as exc:
            raise ObjectNotFound(str(exc)) from None
        except ValidationError as exc:
            raise InvalidParameters(f"Invalid or missing parameters: {_describe(exc)}") from None
        return ocpi_response(http_status=201 if created else 200)

    def delete(self, request: Request, country_code: str, party_id: str, tariff_id: str) -> Response:
        party = self.owned_party(country_code, party_id)
        try:
            tariff_receive_delete(
                partner=self.partner, country_code=party.country_code, party_id=party.party_id, tariff_id=tariff_id
            )
        except (TariffNotAllowedError, Tariff.DoesNotExist) as exc:
            raise ObjectNotFound(str(exc)) from None
        return ocpi_response()
