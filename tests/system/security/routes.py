"""Every OCPI URL shape of the URLconf, as concrete paths with dummy ids (walked, never listed by hand)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver, resolve

from ocpi_platform.ocpi.views import OcpiView

METHODS = ("get", "post", "put", "patch", "delete")
WRITE_METHODS = ("post", "put", "patch", "delete")

_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Route:
    pattern: str
    view_class: type[OcpiView]
    params: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.view_class.__name__} {self.pattern}"

    @property
    def methods(self) -> tuple[str, ...]:
        """The HTTP methods the view implements (base-URL views implement none)."""
        return tuple(m for m in METHODS if callable(getattr(self.view_class, m, None)))

    @property
    def write_methods(self) -> tuple[str, ...]:
        return tuple(m for m in self.methods if m in WRITE_METHODS)

    @property
    def ocpi_version(self) -> str:
        """The OCPI version of the route's path (the same views are mounted for each version, paths.versioned)."""
        for version in ("2.1.1", "2.3.0"):
            if re.escape(version) in self.pattern:
                return version
        return "2.2.1"

    @property
    def is_configuration(self) -> bool:
        """Versions and credentials: token A is accepted there."""
        return bool(self.view_class.token_a_allowed)

    def path(self, **values: str) -> str:
        """The route with each parameter replaced (`values`, else a dummy id)."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            return values.get(name, DUMMY.get(name, f"dummy-{name}".replace("_", "-")))

        text = _GROUP.sub(fill, self.pattern)
        text = text.replace("^", "").replace("$", "").replace("/?", "").replace("\\", "")
        return "/" + text.lstrip("/")


DUMMY = {"country_code": "ZZ", "party_id": "ZZZ", "command": "START_SESSION", "version": "2.3.0"}


def _walk(patterns: list[Any], prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^") if prefix else str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found.extend(_walk(pattern.url_patterns, route))
        elif isinstance(pattern, URLPattern):
            found.append((route, pattern.callback))
    return found


def ocpi_routes() -> list[Route]:
    """Every URL pattern under /ocpi/ served by an OcpiView, checked to resolve back to its view."""
    routes = []
    for pattern, callback in _walk(get_resolver().url_patterns):
        view_class = getattr(callback, "view_class", None)
        if view_class is None or not issubclass(view_class, OcpiView):
            continue
        params = tuple(m.group(1) or m.group(2) for m in _GROUP.finditer(pattern))
        route = Route(pattern=pattern, view_class=view_class, params=params)
        assert route.path().startswith("/ocpi/"), route
        assert resolve(route.path()).func.view_class is view_class, route
        routes.append(route)
    return routes


def route_ids(routes: list[Route]) -> list[str]:
    return [route.path() for route in routes]
