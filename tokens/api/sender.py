"""eMSP role, Tokens Sender interface (tokens.md 3): CPOs pull our drivers' tokens and ask for real-time
authorization (POST {token_uid}/authorize, tokens.md 3.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.exceptions import InterfaceNotForCaller, InvalidParameters, UnknownToken
from ocpi_platform.ocpi.openapi import Many, Op
from ocpi_platform.ocpi.pagination import page_params, paginated_response
from ocpi_platform.ocpi.views import SENDER, OcpiView, ocpi_response
from partners.selectors import partner_serves_cpo
from tokens.models import Token
from tokens.selectors import token_list_published, token_party_is_our_emsp
from tokens.services import token_authorize

from .serializers import TokenSerializer, authorization_info_data, location_references_validate, token_type_param


def _serialize(rows: Sequence[Any]) -> list[Any]:
    return TokenSerializer(rows, many=True).data


class _CpoCallersOnly(OcpiView):
    """The Tokens Sender serves CPOs (tokens.md 3): only a partner with a CPO role, or a Hub relaying for the CPOs
    behind it, may list our drivers' tokens or ask for an authorization; any other partner gets HTTP 404 with
    OCPI 2000 (InterfaceNotForCaller), checked after authentication and the rate limit. No query: the roles come
    with the credentials lookup (partners.selectors.partner_token_resolve)."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not partner_serves_cpo(partner=self.partner):
            raise InterfaceNotForCaller(
                "The Tokens Sender interface serves CPOs and Hubs only: this partner registered no CPO or HUB role"
            )


class TokenSenderListView(_CpoCallersOnly):
    """GET list of our own eMSP tokens, paginated (date_from, date_to, offset, limit)."""

    ocpi_endpoint = ("tokens", SENDER)
    ocpi_operations = {"get": Op("Our eMSP Tokens (eMSP Sender)", data=Many(TokenSerializer), paginated=True)}

    def get(self, request: Request) -> Response:
        params = page_params(request)
        queryset = token_list_published(date_from=params.date_from, date_to=params.date_to)
        to_party = self.routing.to_party
        if to_party and token_party_is_our_emsp(country_code=to_party.country_code, party_id=to_party.party_id):
            # OCPI-to-* naming one of our eMSP parties narrows the list to it (transport.md 8); else ignored.
            queryset = queryset.for_party(to_party.country_code, to_party.party_id)
        return paginated_response(request, queryset, _serialize, params)


class TokenSenderAuthorizeView(_CpoCallersOnly):
    """POST `{token_uid}/authorize[?type=]` with an optional LocationReferences body: AuthorizationInfo.

    Any partner CPO (or Hub) may ask about any of our tokens; tokens of other eMSPs, including the ones partners
    pushed to our CPO, are unknown here (HTTP 404, OCPI 2004, no data). Synchronous: the driver waits.
    """

    ocpi_operations = {
        "post": Op(
            "Real-time authorization of one of our Tokens",
            request="tokens.api.serializers.LocationReferencesSerializer",
            request_required=False,
            data="tokens.api.serializers.AuthorizationInfoSerializer",
            query=("type",),
        )
    }

    def _location(self, request: Request) -> dict[str, Any] | None:
        data = request.data
        if data in (None, {}):  # no body (or an empty object): the reference is optional (card. ?)
            return None
        if not isinstance(data, dict):
            raise InvalidParameters("Invalid or missing parameters: the body must be a LocationReferences object")
        return location_references_validate(data)

    def post(self, request: Request, token_uid: str) -> Response:
        token_type = token_type_param(request)
        location = self._location(request)
        addressed = self.routing.to_party  # OCPI-to-*: only that party's tokens (transport.md 8)
        try:
            info = token_authorize(
                uid=token_uid,
                type=token_type,
                location=location,
                partner=self.partner,
                country_code=addressed.country_code if addressed else None,
                party_id=addressed.party_id if addressed else None,
            )
        except Token.DoesNotExist:
            raise UnknownToken(f"Unknown token {token_uid} ({token_type})") from None
        return ocpi_response(authorization_info_data(info))
