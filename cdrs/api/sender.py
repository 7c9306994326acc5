"""CPO role, CDRs Sender interface (cdrs.md 2): eMSPs pull the CDRs of their tokens."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from cdrs.selectors import cdr_list_for_partner
from locations.selectors import party_is_ours
from ocpi_platform.ocpi.openapi import Many, Op
from ocpi_platform.ocpi.pagination import page_params, paginated_response
from ocpi_platform.ocpi.views import SENDER, OcpiView

from .serializers import cdrs_to_ocpi


class CdrSenderListView(OcpiView):
    """GET {cdr_endpoint_url}?[date_from]&[date_to]&[offset]&[limit].

    Only CDRs whose token belongs to one of the calling partner's parties; a request addressed (OCPI-to-*) to
    one of our CPO parties gets that party's CDRs only. Constant number of queries per page.
    """

    ocpi_endpoint = ("cdrs", SENDER)
    ocpi_operations = {
        "get": Op(
            "CDRs of the caller's Tokens (CPO Sender)", data=Many("cdrs.api.serializers.CdrSerializer"), paginated=True
        )
    }

    def get(self, request: Request) -> Response:
        params = page_params(request)
        to_party = self.routing.to_party
        if to_party is not None and not party_is_ours(country_code=to_party.country_code, party_id=to_party.party_id):
            to_party = None
        queryset = cdr_list_for_partner(
            partner=self.partner, date_from=params.date_from, date_to=params.date_to, party=to_party
        )
        return paginated_response(request, queryset, cdrs_to_ocpi, params)
