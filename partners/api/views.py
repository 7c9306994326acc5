"""Credentials module (both directions share this one endpoint; credentials.md 1)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.exceptions import InvalidParameters, MethodNotAllowed, UnsupportedVersion
from ocpi_platform.ocpi.openapi import Op
from ocpi_platform.ocpi.views import SENDER, OcpiView, ocpi_response

from .. import services
from ..serializers import CredentialsSerializer


class CredentialsView(OcpiView):
    ocpi_endpoint = ("credentials", SENDER)
    token_a_allowed = True
    ocpi_operations = {
        "get": Op("Our credentials for the caller", data=CredentialsSerializer, statuses=(405,)),
        "post": Op(
            "Register (with token A): our credentials come back",
            request=CredentialsSerializer,
            data=CredentialsSerializer,
            statuses=(405,),
        ),
        "put": Op(
            "Update the registration (new token, URL or roles)",
            request=CredentialsSerializer,
            data=CredentialsSerializer,
            statuses=(405,),
        ),
        "delete": Op("Unregister", statuses=(405,)),
    }

    def _body(self, request: Request) -> dict:
        if not isinstance(request.data, dict):
            raise InvalidParameters("Invalid or missing parameters: body must be a Credentials object")
        if "roles" not in request.data and {"party_id", "country_code"} <= request.data.keys():
            # OCPI 2.1.1's Credentials object: one party at the top level, no roles (credentials.md 2).
            raise UnsupportedVersion(
                "OCPI 2.1.1 is not supported yet: this is a 2.1.1 Credentials object (party_id and country_code, "
                f"no roles); this platform speaks OCPI {', '.join(services.SUPPORTED_VERSIONS)} only"
            )
        serializer = CredentialsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get(self, request: Request) -> Response:
        if not self.partner.is_registered:
            raise MethodNotAllowed("Not registered")
        return ocpi_response(services.our_credentials(token=self.identity.token))

    def post(self, request: Request) -> Response:
        if self.partner.is_registered:
            raise MethodNotAllowed("Already registered: use PUT to update or DELETE to unregister")
        data = self._body(request)
        return ocpi_response(
            services.credentials_register_inbound(partner=self.partner, presented_kind=self.identity.kind, data=data)
        )

    def put(self, request: Request) -> Response:
        if not self.partner.is_registered:
            raise MethodNotAllowed("Not registered: use POST to register")
        data = self._body(request)
        return ocpi_response(services.credentials_update_inbound(partner=self.partner, data=data))

    def delete(self, request: Request) -> Response:
        services.credentials_delete_inbound(partner=self.partner)
        return ocpi_response()
