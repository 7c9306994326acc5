"""Versions module: the version list and each version's details, generated from the mounted OCPI views
(paths.py: every module is mounted once per version we speak)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from .exceptions import UnsupportedVersion
from .openapi import Op
from .paths import VERSION, mounted_endpoints, mounted_versions, ocpi_path, version_details_url, versions_url
from .views import OcpiView, ocpi_response
from .wire import V211

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
    """GET the list of versions we support (token A, pending or current token), highest first."""

    token_a_allowed = True
    ocpi_operations = {"get": Op("The versions this platform supports", data={"type": "array", "items": _VERSION})}

    def get(self, request: Request) -> Response:
        return ocpi_response([{"version": v, "url": version_details_url(v)} for v in mounted_versions()])


class VersionDetailsView(OcpiView):
    token_a_allowed = True
    ocpi_operations = {"get": Op("The endpoints of one OCPI version on this platform", data=_VERSION_DETAILS)}

    def get(self, request: Request, version: str = VERSION) -> Response:
        """OCPI 2.1.1 endpoints have no role, so one module is listed once: the interfaces of the one of our
        roles the caller talks to (Partner.ocpi211_face)."""
        face: Any = None
        if version == V211:
            face = self.partner.ocpi211_face()
            if face is None:
                raise UnsupportedVersion(
                    "OCPI 2.1.1 connections carry no roles and this platform hosts a CPO and an eMSP: the "
                    "operator must set this partner's 'OCPI 2.1.1 role' (CPO or eMSP) before it can use 2.1.1"
                )
        return ocpi_response({"version": version, "endpoints": mounted_endpoints(version, face)})
