"""eMSP role, Sessions Receiver interface (sessions.md 3): partner CPOs push the sessions of our tokens."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.enums import Role
from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.openapi import Op, Patch
from ocpi_platform.ocpi.views import RECEIVER, OcpiView, ocpi_response
from sessions.models import ChargingSession
from sessions.selectors import session_get
from sessions.services import SessionPartyNotAllowedError, session_receive

from .serializers import SessionSerializer


class SessionReceiverBaseView(OcpiView):
    """The module's base URL, announced in our version details; the Receiver has no base-URL method."""

    ocpi_endpoint = ("sessions", RECEIVER)


class SessionReceiverObjectView(OcpiView):
    owner_roles = (Role.CPO,)  # a Session belongs to the CPO that runs it
    ocpi_operations = {
        "get": Op("A Session the caller pushed (eMSP Receiver)", data=SessionSerializer),
        "put": Op("Push a whole Session", request=SessionSerializer, created=True),
        "patch": Op("Update fields of a Session", request=Patch(SessionSerializer)),
    }
    """GET/PUT/PATCH `{country_code}/{party_id}/{session_id}`: the URL party must be one the caller registered."""

    def _validated(self, party: PartyRef, session_id: str, *, partial: bool) -> dict[str, Any]:
        serializer = SessionSerializer(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # transport.md 4.4 / 13: the body's ids SHALL equal the URL's.
        expected = {"country_code": party.country_code, "party_id": party.party_id, "id": session_id}
        for field, url_value in expected.items():
            body_value = data.get("ocpi_id" if field == "id" else field)
            if body_value is not None and body_value.upper() != url_value.upper():
                raise InvalidParameters(
                    f"Invalid or missing parameters: {field}: {body_value!r} does not match the URL ({url_value!r})"
                )
        return data

    def _store(self, country_code: str, party_id: str, session_id: str, *, partial: bool) -> bool:
        party = self.owned_party(country_code, party_id)
        data = self._validated(party, session_id, partial=partial)
        try:
            created = session_receive(
                partner=self.partner,
                country_code=party.country_code,
                party_id=party.party_id,
                session_id=session_id,
                data=data,
                partial=partial,
            ).created
        except ChargingSession.DoesNotExist:
            raise ObjectNotFound(f"Unknown session {party}/{session_id}; PUT the full session") from None
        except SessionPartyNotAllowedError:
            raise ObjectNotFound(f"Session {party}/{session_id} cannot be written by this partner") from None
        except ValidationError as exc:
            raise InvalidParameters(f"Invalid or missing parameters: {_describe(exc)}") from None
        return created

    def get(self, request: Request, country_code: str, party_id: str, session_id: str) -> Response:
        party = self.owned_party(country_code, party_id)
        session = session_get(country_code=party.country_code, party_id=party.party_id, session_id=session_id)
        if session is None or session.received_from_id != self.partner.pk:
            raise ObjectNotFound(f"Unknown session {party}/{session_id}")
        return ocpi_response(SessionSerializer(session).data)

    def put(self, request: Request, country_code: str, party_id: str, session_id: str) -> Response:
        created = self._store(country_code, party_id, session_id, partial=False)
        return ocpi_response(http_status=201 if created else 200)

    def patch(self, request: Request, country_code: str, party_id: str, session_id: str) -> Response:
        self._store(country_code, party_id, session_id, partial=True)
        return ocpi_response()


def _describe(exc: ValidationError) -> str:
    """A Django ValidationError as "field: message; ..." (the field names the OCPI field)."""
    if hasattr(exc, "error_dict"):
        return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
    return "; ".join(exc.messages)
