"""Credentials module (both directions share this one endpoint; credentials.md 1), in every version we speak.

The body and the answer are converted here rather than by OcpiView: an OCPI 2.1.1 Credentials object carries
one party and no role, and the role comes from the partner (services.partner_role_211).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.exceptions import InvalidParameters, MethodNotAllowed, UnsupportedVersion
from ocpi_platform.ocpi.openapi import Op
from ocpi_platform.ocpi.paths import version_details_url
from ocpi_platform.ocpi.views import SENDER, OcpiView, ocpi_response
from ocpi_platform.ocpi.wire import V211, WireContext, from_wire

from .. import services
from ..serializers import CredentialsSerializer

_FIELDS_211 = ("token", "url", "business_details", "party_id", "country_code")


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

    def _body_from_wire(self, request: Request) -> None:
        """Converted in _body (the 2.1.1 role comes from the partner)."""

    def _data_to_wire(self, request: Request, response: Response) -> None:
        """Our credentials are built in the version's shape (services.our_credentials)."""

    def _body(self, request: Request) -> dict:
        data: Any = request.data
        if not isinstance(data, dict):
            raise InvalidParameters("Invalid or missing parameters: body must be a Credentials object")
        if self.ocpi_version == V211:
            missing = [name for name in _FIELDS_211 if name not in data]
            if missing:
                raise InvalidParameters(
                    f"Invalid or missing parameters: an OCPI 2.1.1 Credentials object needs {', '.join(missing)}"
                )
            role = services.partner_role_211(self.partner)
            data = from_wire("Credentials", data, V211, WireContext(role=role))
        elif "roles" not in data and {"party_id", "country_code"} <= data.keys():
            # OCPI 2.1.1's Credentials object (one party at the top level, no roles) sent to another version.
            raise UnsupportedVersion(
                f"This is an OCPI 2.1.1 Credentials object (party_id and country_code, no roles) sent to our OCPI "
                f"{self.ocpi_version} credentials endpoint: register in 2.1.1 through {version_details_url(V211)}"
            )
        else:
            data = from_wire("Credentials", data, self.ocpi_version)
        serializer = CredentialsSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get(self, request: Request) -> Response:
        if not self.partner.is_registered:
            raise MethodNotAllowed("Not registered")
        face = services.our_face_211(services.partner_role_211(self.partner)) if self.ocpi_version == V211 else None
        return ocpi_response(services.our_credentials(token=self.identity.token, version=self.ocpi_version, face=face))

    def post(self, request: Request) -> Response:
        if self.partner.is_registered:
            raise MethodNotAllowed("Already registered: use PUT to update or DELETE to unregister")
        data = self._body(request)
        return ocpi_response(
            services.credentials_register_inbound(
                partner=self.partner, presented_kind=self.identity.kind, data=data, version=self.ocpi_version
            )
        )

    def put(self, request: Request) -> Response:
        if not self.partner.is_registered:
            raise MethodNotAllowed("Not registered: use POST to register")
        data = self._body(request)
        return ocpi_response(
            services.credentials_update_inbound(partner=self.partner, data=data, version=self.ocpi_version)
        )

    def delete(self, request: Request) -> Response:
        services.credentials_delete_inbound(partner=self.partner)
        return ocpi_response()
