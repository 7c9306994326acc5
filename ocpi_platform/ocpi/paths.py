"""The URLs of OUR OCPI endpoints, from the route table the version details are generated from: the module base
views really mounted in the URLconf (views with `ocpi_endpoint`)."""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, get_urlconf

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


def _mounted_routes() -> tuple[tuple[str, str, str], ...]:
    """(module, role, path) of every module base view routed in the URLconf in use."""
    return _routes_of(get_urlconf() or settings.ROOT_URLCONF)


@cache
def _routes_of(urlconf: str) -> tuple[tuple[str, str, str], ...]:
    """The route table of one URLconf, computed once."""
    routes = []
    seen = set()
    for route, view_class in _walk(get_resolver(urlconf).url_patterns):
        identifier, role = view_class.ocpi_endpoint
        if (identifier, role) in seen:
            continue
        seen.add((identifier, role))
        routes.append((identifier, role, re.sub(r"\^|\$|/\?|\\", "", route).rstrip("/")))
    return tuple(sorted(routes, key=lambda r: (r[0] != "credentials", r[0], r[1])))


def _absolute(path: str) -> str:
    return f"{settings.OCPI_BASE_URL}/{path}"


def mounted_endpoints() -> list[dict[str, str]]:
    """Every (module, role) whose base view is really mounted, with its public URL."""
    return [
        {"identifier": identifier, "role": role, "url": _absolute(path)} for identifier, role, path in _mounted_routes()
    ]


def ocpi_path(module: str, role: str, *segments: object) -> str:
    """The absolute URL of one of OUR OCPI endpoints: the base URL of `module`'s `role` interface (SENDER or
    RECEIVER) as the version details list it, then `segments`, each quoted as one path segment.

    ocpi_path("commands", SENDER, "START_SESSION", uid) -> {OCPI_BASE_URL}/ocpi/emsp/2.2.1/commands/START_SESSION/<uid>
    """
    for identifier, interface_role, path in _mounted_routes():
        if identifier == module and interface_role == role:
            return "/".join([_absolute(path), *(quote(str(segment), safe="") for segment in segments)])
    raise LookupError(f"No {module} {role} endpoint is mounted")


def versions_url() -> str:
    return _absolute("ocpi/versions")


def version_details_url() -> str:
    return _absolute(f"ocpi/{VERSION}")
