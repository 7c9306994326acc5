"""CPO role, Tokens Receiver interface (tokens.md 2): partner eMSPs push their drivers' tokens to us.

A token another partner pushed is answered exactly as an unknown one (GET, PATCH: HTTP 404, OCPI 2000, same
message); a PUT over it is HTTP 404, OCPI 2000 "... cannot be written by this partner" and changes nothing.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.enums import Role
from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.openapi import Op, Patch
from ocpi_platform.ocpi.views import RECEIVER, OcpiView, ocpi_response
from partners.receiving import Received
from tokens.models import Token
from tokens.selectors import token_get_received
from tokens.services import TokenObjectNotAllowedError, TokenPartyNotAllowedError, token_receive

from .serializers import TokenSerializer, token_type_param


class TokenReceiverBaseView(OcpiView):
    """The module's base URL, announced in our version details; the Receiver has no base-URL method."""

    ocpi_endpoint = ("tokens", RECEIVER)


class TokenReceiverObjectView(OcpiView):
    owner_roles = (Role.EMSP,)  # a Token belongs to an eMSP
    ocpi_operations = {
        "get": Op("A Token the caller pushed (CPO Receiver)", data=TokenSerializer, query=("type",)),
        "put": Op("Push a whole Token", request=TokenSerializer, query=("type",), created=True),
        "patch": Op("Update fields of a Token", request=Patch(TokenSerializer), query=("type",)),
    }
    """GET/PUT/PATCH `{country_code}/{party_id}/{token_uid}[?type=]` (type defaults to RFID)."""

    def _token_type(self) -> str:
        return token_type_param(self.request)

    def _validated(self, party: PartyRef, token_uid: str, token_type: str, *, partial: bool) -> dict[str, Any]:
        serializer = TokenSerializer(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # transport.md 4.4/13: the body's ids SHALL equal the URL's.
        expected = {
            "country_code": party.country_code,
            "party_id": party.party_id,
            "uid": token_uid,
            "type": token_type,
        }
        for field, url_value in expected.items():
            body_value = data.get("ocpi_id" if field == "uid" else field)
            if body_value is None:
                continue
            same = body_value == url_value if field == "type" else body_value.upper() == url_value.upper()
            if not same:
                where = "the type query parameter (RFID when omitted)" if field == "type" else "the URL"
                raise InvalidParameters(
                    f"Invalid or missing parameters: {field}: {body_value!r} does not match {where} ({url_value!r})"
                )
        return data

    def _store(self, country_code: str, party_id: str, token_uid: str, *, partial: bool) -> Received:
        party = self.owned_party(country_code, party_id)
        token_type = self._token_type()
        data = self._validated(party, token_uid, token_type, partial=partial)
        try:
            return token_receive(
                partner=self.partner,
                country_code=party.country_code,
                party_id=party.party_id,
                uid=token_uid,
                type=token_type,
                data=data,
                partial=partial,
            )
        except Token.DoesNotExist:
            raise ObjectNotFound(f"Unknown token {party}/{token_uid} ({token_type}); PUT the full token") from None
        except TokenObjectNotAllowedError:
            raise ObjectNotFound(
                f"Token {party}/{token_uid} ({token_type}) cannot be written by this partner"
            ) from None
        except TokenPartyNotAllowedError:
            raise ObjectNotFound(f"Party {party} is not one of the parties registered by this partner") from None

    def get(self, request: Request, country_code: str, party_id: str, token_uid: str) -> Response:
        party = self.owned_party(country_code, party_id)
        token_type = self._token_type()
        token = token_get_received(
            country_code=party.country_code, party_id=party.party_id, uid=token_uid, type=token_type
        )
        if token is None or token.received_from_id != self.partner.pk:  # another partner's: as unknown
            raise ObjectNotFound(f"Unknown token {party}/{token_uid} ({token_type})")
        return ocpi_response(TokenSerializer(token).data)

    def put(self, request: Request, country_code: str, party_id: str, token_uid: str) -> Response:
        created = self._store(country_code, party_id, token_uid, partial=False).created
        return ocpi_response(http_status=201 if created else 200)

    def patch(self, request: Request, country_code: str, party_id: str, token_uid: str) -> Response:
        self._store(country_code, party_id, token_uid, partial=True)
        return ocpi_response()
