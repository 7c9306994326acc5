"""Tariffs Sender interface (CPO role, tariffs.md 2): GET list of our own CPO parties' tariffs."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.openapi import Many, Op
from ocpi_platform.ocpi.pagination import page_params, paginated_response
from ocpi_platform.ocpi.views import SENDER, OcpiView
from tariffs.selectors import party_is_our_cpo, tariff_list_published

from .serializers import tariffs_to_ocpi


class TariffSenderListView(OcpiView):
    """GET {tariffs_endpoint_url}?[date_from]&[date_to]&[offset]&[limit]; there is no GET-one in 2.2.1.

    A request addressed (OCPI-to-*) to one of our CPO parties gets that party's tariffs only; otherwise
    all our CPO parties' tariffs. Constant number of queries per page (elements are prefetched).
    """

    ocpi_endpoint = ("tariffs", SENDER)
    ocpi_operations = {
        "get": Op("Our Tariffs (CPO Sender)", data=Many("tariffs.api.serializers.TariffSerializer"), paginated=True)
    }

    def get(self, request: Request) -> Response:
        params = page_params(request)
        to_party = self.routing.to_party
        if to_party is not None and not party_is_our_cpo(
            country_code=to_party.country_code, party_id=to_party.party_id
        ):
            to_party = None
        queryset = tariff_list_published(date_from=params.date_from, date_to=params.date_to, party=to_party)
        return paginated_response(request, queryset, tariffs_to_ocpi, params)
