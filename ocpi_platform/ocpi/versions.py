"""Versions module: the version list and the 2.2.1 details, generated from the mounted OCPI views."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.request import Request
from rest_framework.response import Response

from .openapi import Op
from .views import OcpiView, ocpi_response

VERSION = "2.2.1"


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found.extend(_walk(pattern.url_patterns, route))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is not None and getattr(view_class, "ocpi_endpoint", None):
                found.append((route, view_class))
    return found


@cache
def _mounted_routes() -> tuple[tuple[str, str, str], ...]:
    """(module, role, path) of every module base view routed in the URLconf, computed once."""
    routes = []
    seen = set()
    for route, view_class in _walk(get_resolver().url_patterns):
        identifier, role = view_class.ocpi_endpoint
        if (identifier, role) in seen:
            continue
        seen.add((identifier, role))
        routes.append((identifier, role, re.sub(r"\^|\$|/\?|\\", "", route).rstrip("/")))
    return tuple(sorted(routes, key=lambda r: (r[0] != "credentials", r[0], r[1])))


def mounted_endpoints() -> list[dict[str, str]]:
    """Every (module, role) whose base view is really mounted, with its public URL."""
    return [
        {"identifier": identifier, "role": role, "url": f"{settings.OCPI_BASE_URL}/{path}"}
        for identifier, role, path in _mounted_routes()
    ]


def versions_url() -> str:
    return f"{settings.OCPI_BASE_URL}/ocpi/versions"


def version_details_url() -> str:
    return f"{settings.OCPI_BASE_URL}/ocpi/{VERSION}"


_VERSION = {
    "type": "object",
    "required": ["version", "url"],
    "properties": {"version": {"type": "string", "example": "2.2.1"}, "url": {"type": "string", "format": "uri"}},
}
_VERSION_DETAILS = {
    "type": "object",
    "required": ["version", "endpoints"],
    "properties": {
        "version": {"type": "string", "example": "2.2.1"},
        "endpoints": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["identifier", "role", "url"],
                "properties": {
                    "identifier": {"$ref": "#/components/schemas/ModuleID"},
                    "role": {"$enum": "ocpi_platform.ocpi.enums.InterfaceRole"},
                    "url": {"type": "string", "format": "uri"},
                },
            },
        },
    },
}


class VersionsView(OcpiView):
    """GET the list of versions we support (token A, pending or current token)."""

    token_a_allowed = True
    ocpi_operations = {"get": Op("The versions this platform supports", data={"type": "array", "items": _VERSION})}

    def get(self, request: Request) -> Response:
        return ocpi_response([{"version": VERSION, "url": version_details_url()}])


class VersionDetailsView(OcpiView):
    token_a_allowed = True
    ocpi_operations = {"get": Op("The endpoints of OCPI 2.2.1 on this platform", data=_VERSION_DETAILS)}

    def get(self, request: Request) -> Response:
        return ocpi_response({"version": VERSION, "endpoints": mounted_endpoints()})
