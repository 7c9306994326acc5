"""HubClientInfo, Receiver interface (hubclientinfo.md 3): a Hub partner PUTs the ClientInfo of every party it
connects, and may GET what we stored. `{hubclientinfo_endpoint_url}/{country_code}/{party_id}`.

Only a partner whose role is HUB may use it (others: HTTP 401 with `WWW-Authenticate`, OCPI 2000: OCPI has no
403, spec-issues A3; like every module refusing a token it does not serve). The body's country_code/party_id
must equal the URL's (2001 naming the field). A Configuration module: no routing headers. The list GET of the
spec is the Hub's Sender interface; we call it with partners.hub_pull.client_info_pull.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound, OcpiError
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.openapi import Op
from ocpi_platform.ocpi.views import RECEIVER, OcpiView, ocpi_response
from ocpi_platform.ocpi.wire import V221, V230

from ..hubclientinfo import NotAHubError, client_info_get, client_info_store, partner_is_hub
from ..serializers import ClientInfoSerializer


class HubOnly(OcpiError):
    http_status = 401
    default_message = "Only a Hub partner may use the hubclientinfo module"


class HubClientInfoReceiverBaseView(OcpiView):
    """The module's base URL, announced in our version details; the Receiver has no base-URL method."""

    ocpi_versions = (V221, V230)  # not in OCPI 2.1.1

    ocpi_endpoint = ("hubclientinfo", RECEIVER)


class HubClientInfoReceiverObjectView(OcpiView):
    """GET / PUT `{country_code}/{party_id}`."""

    ocpi_versions = (V221, V230)  # not in OCPI 2.1.1

    ocpi_operations = {
        "get": Op("A ClientInfo the Hub reported", data=ClientInfoSerializer),
        "put": Op("Report the ClientInfo of a party the Hub connects", request=ClientInfoSerializer, created=True),
    }

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not partner_is_hub(self.partner):
            raise HubOnly()

    def get(self, request: Request, country_code: str, party_id: str) -> Response:
        ref = PartyRef.of(country_code, party_id)
        info = client_info_get(hub=self.partner, country_code=ref.country_code, party_id=ref.party_id)
        if info is None:
            raise ObjectNotFound(f"No ClientInfo for {ref}")
        return ocpi_response(ClientInfoSerializer(info).data)

    def put(self, request: Request, country_code: str, party_id: str) -> Response:
        ref = PartyRef.of(country_code, party_id)
        serializer = ClientInfoSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        for field in ("country_code", "party_id"):
            if data[field].upper() != getattr(ref, field):
                raise InvalidParameters(
                    f"Invalid or missing parameters: {field}: {data[field]!r} does not match the URL "
                    f"({getattr(ref, field)!r})"
                )
        try:
            stored = client_info_store(hub=self.partner, data=data)
        except NotAHubError as exc:
            raise HubOnly(str(exc)) from None
        return ocpi_response(http_status=201 if stored.created else 200)
