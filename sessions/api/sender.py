"""CPO role, Sessions Sender interface (sessions.md 2): partner eMSPs pull the sessions of their tokens and
set charging preferences of an ongoing session."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from locations.selectors import our_cpo_party_get
from ocpi_platform.ocpi.exceptions import InvalidParameters, ObjectNotFound
from ocpi_platform.ocpi.openapi import Many, Op
from ocpi_platform.ocpi.pagination import page_params, paginated_response
from ocpi_platform.ocpi.views import SENDER, OcpiView, ocpi_response
from ocpi_platform.ocpi.wire import V221, V230
from sessions.selectors import session_get_for_partner, session_list_for_partner
from sessions.services import ChargingPreferencesNotSupportedError, session_set_charging_preferences

from .serializers import ChargingPreferencesSerializer, session_to_ocpi


def _serialize(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [session_to_ocpi(row) for row in rows]


class SessionSenderListView(OcpiView):
    """GET list (paginated; date_from, date_to, offset, limit): only sessions whose token belongs to the caller.

    date_from is marked required by the module but optional by the pagination chapter: accepted without
    (spec-issues A4).
    """

    ocpi_endpoint = ("sessions", SENDER)
    ocpi_operations = {
        "get": Op(
            "Sessions of the caller's Tokens (CPO Sender)",
            data=Many("sessions.api.serializers.SessionSerializer"),
            paginated=True,
        )
    }

    def get(self, request: Request) -> Response:
        params = page_params(request)
        queryset = session_list_for_partner(partner=self.partner, date_from=params.date_from, date_to=params.date_to)
        to_party = self.routing.to_party
        if to_party and our_cpo_party_get(country_code=to_party.country_code, party_id=to_party.party_id):
            # OCPI-to-* naming one of our CPO parties narrows the list to it (transport.md 8); else ignored.
            queryset = queryset.for_party(to_party.country_code, to_party.party_id)
        return paginated_response(request, queryset, _serialize, params)


class SessionSenderChargingPreferencesView(OcpiView):
    """PUT `{session_id}/charging_preferences`: ChargingPreferences in, ChargingPreferencesResponse out."""

    ocpi_versions = (V221, V230)  # not in OCPI 2.1.1

    ocpi_operations = {
        "put": Op(
            "Set the charging preferences of a Session",
            request=ChargingPreferencesSerializer,
            data={"$enum": "sessions.models.ChargingPreferencesResponse"},
        )
    }

    def put(self, request: Request, session_id: str) -> Response:
        party = self.routing.to_party
        session = session_get_for_partner(partner=self.partner, session_id=session_id, party=party)
        if session is None and party is not None:
            session = session_get_for_partner(partner=self.partner, session_id=session_id)
        if session is None:
            raise ObjectNotFound(f"Unknown session {session_id}")
        serializer = ChargingPreferencesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)  # 2001 naming the field; the service takes the OCPI body
        try:
            answer = session_set_charging_preferences(session=session, preferences=request.data)
        except ChargingPreferencesNotSupportedError as exc:
            # sessions.md 2.2 / spec-issues D2: HTTP 404 with OCPI 2001.
            raise InvalidParameters(str(exc), http_status=404) from None
        return ocpi_response(str(answer))
