"""The staff-facing "page not found" page (issue 13): never Django's debug 404, even with DEBUG on.

OCPI URLs keep their own answer: OcpiMiddleware turns a 404 under /ocpi/ into the OCPI envelope
(status_code 2000, OCPI 2.2.1 transport_and_format.md 4.1.2)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template import loader

from ocpi_platform.ocpi.middleware import is_ocpi_path

TEMPLATE = "404.html"


def page_not_found(request: HttpRequest, exception: Exception | None = None, **kwargs: Any) -> HttpResponse:
    """handler404: our own page with the way back to the admin."""
    return HttpResponseNotFound(loader.render_to_string(TEMPLATE, {"request_path": request.path}, request))


class NotFoundPageMiddleware:
    """With DEBUG on Django answers an unknown URL with its technical 404 page (settings, URL patterns);
    the demo shows our page instead. Outside /ocpi/ only; after CommonMiddleware's slash redirect."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        debug_page = settings.DEBUG and "text/html" in response.get("Content-Type", "")
        if response.status_code == 404 and debug_page and not is_ocpi_path(request.path):
            response = page_not_found(request)
        return response
