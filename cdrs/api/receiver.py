"""eMSP role, CDRs Receiver interface (cdrs.md 3): partner CPOs POST their CDRs to us and GET them back.

POST is idempotent (spec-issues E3): the same CDR again answers 200 with the same `Location`; a new one 201.
A CDR whose country_code/party_id is not a party the caller registered, or whose token is not of our eMSP,
is refused with OCPI 2001 (HTTP 200): the POST URL is flat, so nothing in it is "not found"; the error is
in the body and names the field. The same CDR id with other content is refused with 2001 too (CDRs are
immutable: the CPO must send a credit CDR).
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from cdrs.models import Cdr
from cdrs.selectors import cdr_get_received
from cdrs.services import CdrError, cdr_receive
from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound
from ocpi_platform.ocpi.openapi import Op
from ocpi_platform.ocpi.paths import ocpi_path
from ocpi_platform.ocpi.views import RECEIVER, OcpiView, ocpi_response

from .serializers import CdrSerializer, cdr_to_ocpi


def cdr_location_url(cdr: Cdr) -> str:
    """Where we keep a received CDR (the `Location` header of the POST answer)."""
    return ocpi_path("cdrs", RECEIVER, cdr.pk)


class CdrReceiverListView(OcpiView):
    """POST {cdr_endpoint_url}: a new CDR from a partner CPO."""

    ocpi_endpoint = ("cdrs", RECEIVER)
    ocpi_operations = {
        "post": Op(
            "Post a CDR (eMSP Receiver); idempotent per CDR id",
            request=CdrSerializer,
            created=True,
            location_header=True,
        )
    }

    def post(self, request: Request) -> Response:
        serializer = CdrSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            received = cdr_receive(partner=self.partner, data=serializer.validated_data)
        except CdrError as exc:
            raise InvalidParameters(f"Invalid or missing parameters: {exc}") from None
        return ocpi_response(
            http_status=201 if received.created else 200, headers={"Location": cdr_location_url(received.obj)}
        )


class CdrReceiverObjectView(OcpiView):
    """GET the URL the POST answered: only to the partner that posted the CDR (404 for anybody else)."""

    ocpi_operations = {
        "get": Op("A CDR the caller posted, at the URL of the POST answer's Location", data=CdrSerializer)
    }

    def get(self, request: Request, cdr_id: str) -> Response:
        cdr = cdr_get_received(partner=self.partner, pk=int(cdr_id)) if cdr_id.isdigit() and len(cdr_id) < 19 else None
        if cdr is None:
            raise ObjectNotFound(f"Unknown CDR {cdr_id}")
        return ocpi_response(cdr_to_ocpi(cdr))
