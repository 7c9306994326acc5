"""eMSP role, Tokens Sender interface (tokens.md 3): CPOs pull our drivers' tokens.

Real-time authorization (POST {token_uid}/authorize, tokens.md 3.2) comes later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from ocpi_platform.ocpi.pagination import page_params, paginated_response
from ocpi_platform.ocpi.views import SENDER, OcpiView
from tokens.selectors import token_list_published

from .serializers import TokenSerializer


def _serialize(rows: Sequence[Any]) -> list[Any]:
    return TokenSerializer(rows, many=True).data


class TokenSenderListView(OcpiView):
    """GET list of our own eMSP tokens, paginated (date_from, date_to, offset, limit)."""

    ocpi_endpoint = ("tokens", SENDER)

    def get(self, request: Request) -> Response:
        params = page_params(request)
        queryset = token_list_published(date_from=params.date_from, date_to=params.date_to)
        return paginated_response(request, queryset, _serialize, params)
