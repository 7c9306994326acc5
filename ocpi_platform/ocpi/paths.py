"""The URLs of OUR OCPI endpoints, from the route table the version details are generated from: the module base
views really mounted in the URLconf (views with `ocpi_endpoint`), once per OCPI version we speak.

Every module's urls.py is written for OCPI 2.2.1 (`^cpo/2\\.2\\.1/locations`); `versioned()` mounts the same views
again under 2.1.1 and 2.3.0 (`^cpo/2\\.1\\.1/locations`), passing the version to the view (`OcpiView.ocpi_version`),
except views that declare the module absent from a version (`OcpiView.ocpi_versions`).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import import_module
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, get_urlconf, re_path

from .wire import INTERNAL_VERSION, SUPPORTED_VERSIONS, V211, version_key

VERSION = INTERNAL_VERSION
_INTERNAL_IN_ROUTE = re.escape(INTERNAL_VERSION)  # 2\.2\.1 as the module urls.py write it

# The two faces of this platform in OCPI 2.1.1, where an endpoint has no role: our CPO's interfaces (what an eMSP
# partner calls) are mounted under cpo/, our eMSP's under emsp/; credentials serve both (versions.md 2.1.1).
FACE_CPO = "CPO"
FACE_EMSP = "EMSP"


def versioned(urlconf_module: str) -> list[URLPattern]:
    """The routes of a module's urls.py for every version we speak: 2.2.1 as written (names kept), then each
    other version with the version in the path, `ocpi_version` passed to the view and no name (reverse() keeps
    meaning 2.2.1)."""
    patterns = import_module(urlconf_module).urlpatterns
    mounted: list[URLPattern] = []
    for version in sorted(SUPPORTED_VERSIONS, key=lambda v: v != INTERNAL_VERSION):
        for pattern in patterns:
            view_class = getattr(pattern.callback, "view_class", None)
            versions = getattr(view_class, "ocpi_versions", SUPPORTED_VERSIONS)
            if version not in versions:
                continue
            regex = pattern.pattern.regex.pattern
            if version == INTERNAL_VERSION:
                mounted.append(re_path(regex, pattern.callback, {"ocpi_version": version}, name=pattern.name))
            else:
                routed = regex.replace(_INTERNAL_IN_ROUTE, re.escape(version))
                mounted.append(re_path(routed, pattern.callback, {"ocpi_version": version}))
    return mounted


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any, str]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found.extend(_walk(pattern.url_patterns, route))
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if view_class is not None and getattr(view_class, "ocpi_endpoint", None):
                version = pattern.default_args.get("ocpi_version", INTERNAL_VERSION)
                found.append((route, view_class, version))
    return found


def _mounted_routes(version: str = INTERNAL_VERSION) -> tuple[tuple[str, str, str], ...]:
    """(module, role, path) of every module base view routed in the URLconf in use, for one version."""
    return _routes_of(get_urlconf() or settings.ROOT_URLCONF).get(version, ())


@cache
def _routes_of(urlconf: str) -> dict[str, tuple[tuple[str, str, str], ...]]:
    """The route table of one URLconf, per version, computed once."""
    routes: dict[str, list[tuple[str, str, str]]] = {}
    seen = set()
    for route, view_class, version in _walk(get_resolver(urlconf).url_patterns):
        identifier, role = view_class.ocpi_endpoint
        if (identifier, role, version) in seen:
            continue
        seen.add((identifier, role, version))
        routes.setdefault(version, []).append((identifier, role, re.sub(r"\^|\$|/\?|\\", "", route).rstrip("/")))
    return {
        version: tuple(sorted(found, key=lambda r: (r[0] != "credentials", r[0], r[1])))
        for version, found in routes.items()
    }


def _absolute(path: str) -> str:
    return f"{settings.OCPI_BASE_URL}/{path}"


def mounted_versions() -> list[str]:
    """The versions something is mounted for, highest first."""
    return sorted(_routes_of(get_urlconf() or settings.ROOT_URLCONF), key=version_key, reverse=True)


def _face_of(path: str) -> str | None:
    """Which of our faces a module path belongs to (ocpi/cpo/... or ocpi/emsp/...); None: both (credentials)."""
    if path.startswith("ocpi/cpo/"):
        return FACE_CPO
    if path.startswith("ocpi/emsp/"):
        return FACE_EMSP
    return None


def mounted_endpoints(version: str = INTERNAL_VERSION, face: str | None = None) -> list[dict[str, str]]:
    """Every (module, role) whose base view is really mounted for `version`, with its public URL.

    OCPI 2.1.1 endpoints carry no role and each module appears once: give the `face` (FACE_CPO: the interfaces
    our CPO offers an eMSP partner; FACE_EMSP: what our eMSP offers a CPO partner) and the list is that face's
    endpoints, without roles.
    """
    routes = _mounted_routes(version)
    if version == V211:
        return [
            {"identifier": identifier, "url": _absolute(path)}
            for identifier, _role, path in routes
            if _face_of(path) in (None, face)
        ]
    return [{"identifier": identifier, "role": role, "url": _absolute(path)} for identifier, role, path in routes]


def ocpi_path(module: str, role: str, *segments: object, version: str = INTERNAL_VERSION) -> str:
    """The absolute URL of one of OUR OCPI endpoints: the base URL of `module`'s `role` interface (SENDER or
    RECEIVER) as the version details of `version` list it, then `segments`, each quoted as one path segment.

    ocpi_path("commands", SENDER, "START_SESSION", uid) -> {OCPI_BASE_URL}/ocpi/emsp/2.2.1/commands/START_SESSION/<uid>
    """
    for identifier, interface_role, path in _mounted_routes(version):
        if identifier == module and interface_role == role:
            return "/".join([_absolute(path), *(quote(str(segment), safe="") for segment in segments)])
    raise LookupError(f"No {module} {role} endpoint is mounted for OCPI {version}")


def versions_url() -> str:
    return _absolute("ocpi/versions")


def version_details_url(version: str = INTERNAL_VERSION) -> str:
    return _absolute(f"ocpi/{version}")
