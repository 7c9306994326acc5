"""Versions module: the version list and the 2.2.1 details, generated from the mounted OCPI views (paths.py)."""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from .openapi import Op
from .paths import VERSION, mounted_endpoints, ocpi_path, version_details_url, versions_url
from .views import OcpiView, ocpi_response

__all__ = [
    "VERSION",
    "VersionDetailsView",
    "VersionsView",
    "mounted_endpoints",
    "ocpi_path",
    "version_details_url",
    "versions_url",
]

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
