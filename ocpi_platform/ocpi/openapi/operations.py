"""What each OCPI operation carries, declared on its view: `ocpi_operations = {"get": Op(...), ...}`.

The generator cannot guess from a view which canonical serializer a request or the `data` of a response carries,
whether a list is paginated, which query parameters it reads or which further HTTP statuses it answers: each
view says so next to its `ocpi_endpoint`, e.g.

    class TariffSenderListView(OcpiView):
        ocpi_endpoint = ("tariffs", SENDER)
        ocpi_operations = {"get": Op("Our Tariffs (CPO Sender)", data=Many(TariffSerializer), paginated=True)}

A serializer is named by its class, or by its dotted path where the view module does not import it (this
package, like the rest of the transport layer, imports no app). Schema dicts may use the shorthand
`{"$enum": "<dotted TextChoices path>"}` for a $ref to the named enum component.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string

from ..views import OcpiView

NO_DATA = object()

#: A serializer: its class, or its dotted path.
SerializerRef = type | str


@dataclass(frozen=True)
class Many:
    """`data` is a JSON array of this serializer's object."""

    serializer: SerializerRef


@dataclass(frozen=True)
class Patch:
    """PATCH body: any subset of the object's fields; `last_updated` is required (transport.md 4.3)."""

    serializer: SerializerRef


@dataclass(frozen=True)
class AnyOf:
    """One of these objects (the command bodies of `POST {command}`)."""

    serializers: tuple[SerializerRef, ...]


@dataclass(frozen=True)
class Op:
    summary: str
    data: Any = NO_DATA  # serializer, Many(...), or a schema dict; NO_DATA: the envelope has no data
    request: Any = None  # serializer, Patch(...), AnyOf(...) or a schema dict
    request_required: bool = True
    paginated: bool = False  # Sender list: offset/limit/date_from/date_to, X-Total-Count/X-Limit/Link
    query: tuple[str, ...] = ()
    created: bool = False  # HTTP 201 when the object was new
    statuses: tuple[int, ...] = ()  # further HTTP statuses (error envelope)
    location_header: bool = False


def serializer_class(ref: SerializerRef) -> type:
    return import_string(ref) if isinstance(ref, str) else ref


def serializer_refs(ref: Any) -> list[SerializerRef]:
    """The serializers an Op's `data` or `request` names (none for a schema dict)."""
    if isinstance(ref, str | type):
        return [ref]
    if isinstance(ref, Many | Patch):
        return [ref.serializer]
    if isinstance(ref, AnyOf):
        return list(ref.serializers)
    return []


def operation_entry(view_class: type, method: str) -> Op | None:
    operations: Mapping[str, Op] = getattr(view_class, "ocpi_operations", None) or {}
    return operations.get(method.lower())


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def mounted_ocpi_views() -> Iterator[type[OcpiView]]:
    """Every OcpiView routed in the URLconf (once per route)."""

    def walk(patterns: list[Any]) -> Iterator[type[OcpiView]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                view_class = getattr(pattern.callback, "view_class", None)
                if view_class is not None and issubclass(view_class, OcpiView):
                    yield view_class

    return walk(get_resolver().url_patterns)


def undocumented_operations() -> list[str]:
    """Methods of mounted OCPI views that their `ocpi_operations` do not describe (should be empty; a CI test)."""
    missing = [
        f"{method.upper()} {dotted(view_class)}"
        for view_class in mounted_ocpi_views()
        for method in ("get", "post", "put", "patch", "delete")
        if callable(getattr(view_class, method, None)) and not operation_entry(view_class, method)
    ]
    return sorted(set(missing))
