"""OcpiAutoSchema (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]): each OCPI operation from its view's `ocpi_operations`
(parameters, request body, enveloped responses), component names, and the drf-spectacular extensions of our
authentication and custom fields."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from django.utils.module_loading import import_string
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import Direction

from .operations import (
    NO_DATA,
    AnyOf,
    Many,
    Op,
    Patch,
    mounted_ocpi_views,
    operation_entry,
    serializer_class,
    serializer_refs,
)
from .types import (
    CONFIGURATION_MODULES,
    DATETIME,
    HEADER_COMPONENTS,
    ID_HEADERS,
    PAGE_QUERY,
    PATH_PARAMETERS,
    QUERY_PARAMETERS,
    ROUTING_HEADERS,
    expand,
    module_of,
    party_role,
)

# --- Component names: the spec's object names, disambiguated where two apps define one differently -----------


def _serializer_classes() -> set[type]:
    """Every serializer class the mounted views' operations reach (nested ones included)."""
    from rest_framework import serializers

    found: set[type] = set()

    def visit(serializer: Any) -> None:
        serializer = serializer.child if isinstance(serializer, serializers.ListSerializer) else serializer
        if type(serializer) in found:
            return
        found.add(type(serializer))
        for field in serializer.fields.values():
            target = field.child if isinstance(field, serializers.ListSerializer | serializers.ListField) else field
            nested = getattr(target, "serializer_class", None) or _field_serializer(type(target))
            if isinstance(target, serializers.BaseSerializer):
                visit(target)
            elif nested is not None:
                visit(serializer_class(nested)())

    for view_class in set(mounted_ocpi_views()):
        operations: dict[str, Op] = getattr(view_class, "ocpi_operations", None) or {}
        for op in operations.values():
            for ref in (op.data, op.request):
                for serializer in serializer_refs(ref):
                    visit(serializer_class(serializer)())
    return found


# Custom fields (source "*") that stand for one OCPI value object: field class -> its serializer (dotted paths).
FIELD_SERIALIZERS = {
    "locations.api.serializers.GeoLocationField": "locations.api.serializers.GeoLocationSerializer",
    "cdrs.serializers.PriceField": "cdrs.serializers.PriceSerializer",
}


@cache
def _field_serializers() -> dict[type, type]:
    """FIELD_SERIALIZERS by class (a field may be re-exported under another dotted path)."""
    return {import_string(field): serializer_class(serializer) for field, serializer in FIELD_SERIALIZERS.items()}


def _field_serializer(field_class: type) -> type | None:
    return _field_serializers().get(field_class)


@cache
def _ambiguous_names() -> frozenset[str]:
    by_name: dict[str, set[type]] = {}
    for cls in _serializer_classes():
        by_name.setdefault(_base_name(cls), set()).add(cls)
    return frozenset(name for name, classes in by_name.items() if len(classes) > 1)


def _base_name(cls: type) -> str:
    name = cls.__name__
    return name[: -len("Serializer")] if name.endswith("Serializer") else name


# --- drf-spectacular extensions ---------------------------------------------------------------------------


class OcpiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "ocpi_platform.ocpi.auth.OcpiTokenAuthentication"
    name = "OcpiToken"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "OCPI credentials token: `Authorization: Token <base64 of the token>` (transport.md 2.1). "
                "Versions and credentials accept token A (registration) and the current token; every other "
                "module only the current token of a registered partner. Anything else is HTTP 401."
            ),
        }


class OcpiDateTimeFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "ocpi_platform.ocpi.fields.OcpiDateTimeField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return dict(DATETIME)


def _nested(auto_schema: AutoSchema, serializer_class: type, many: bool, direction: Direction) -> dict[str, Any]:
    component = auto_schema.resolve_serializer(serializer_class(), direction)
    return {"type": "array", "items": component.ref} if many else component.ref


class NestedJsonFieldExtension(OpenApiSerializerFieldExtension):
    """locations: a value object kept in a JSON column, validated by its own serializer."""

    target_class = "locations.api.serializers.NestedJsonField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return _nested(auto_schema, self.target.serializer_class, self.target.many, direction)


class SnapshotFieldExtension(OpenApiSerializerFieldExtension):
    """cdrs: as NestedJsonField; a list may be declared non-empty."""

    target_class = "cdrs.api.serializers.SnapshotField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = _nested(auto_schema, self.target.serializer_class, self.target.many, direction)
        if self.target.many and not self.target.allow_empty:
            schema["minItems"] = 1
        return schema


def _field_serializer_of(field: Any) -> type:
    serializer = _field_serializer(type(field))
    assert serializer is not None, type(field)
    return serializer


class GeoLocationFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "locations.api.serializers.GeoLocationField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return _nested(auto_schema, _field_serializer_of(self.target), False, direction)


class PriceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = "cdrs.api.serializers.PriceField"

    def map_serializer_field(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        return _nested(auto_schema, _field_serializer_of(self.target), False, direction)


# --- The AutoSchema -----------------------------------------------------------------------------------------

ERROR_REF = {"$ref": "#/components/schemas/OcpiErrorResponse"}


def _header_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/headers/{name}"}


class OcpiAutoSchema(AutoSchema):
    """Builds each OCPI operation from its view's `ocpi_operations`: parameters, request body, enveloped responses."""

    @property
    def entry(self) -> Op | None:
        return operation_entry(type(self.view), self.method)

    @property
    def ocpi_path(self) -> str:
        return self.path.rstrip("/") or "/"

    def get_operation(self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any) -> Any:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None:
            operation["x-ocpi-module"] = module_of(self.ocpi_path)
            role = party_role(self.ocpi_path)
            if role:
                operation["x-ocpi-party-role"] = role
        return operation

    def get_operation_id(self) -> str:
        name = type(self.view).__name__.removesuffix("View")
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
        return f"{snake}_{self.method.lower()}"

    def get_tags(self) -> list[str]:
        return [module_of(self.ocpi_path)]

    def get_summary(self) -> str | None:
        entry = self.entry
        return entry.summary if entry else None

    def get_serializer_name(self, serializer: Any, direction: Direction) -> str:
        name = super().get_serializer_name(serializer, direction)
        base = name[: -len("Serializer")] if name.endswith("Serializer") else name
        if base in _ambiguous_names():
            app = type(serializer).__module__.split(".", 1)[0]
            return f"{app.capitalize()}{name}"
        return name

    # parameters

    def _get_parameters(self) -> list[dict[str, Any]]:
        entry = self.entry
        parameters: list[dict[str, Any]] = []
        for name in re.findall(r"{(\w+)}", self.path):
            schema = PATH_PARAMETERS.get(name, {"type": "string", "pattern": "^[^/]+$"})
            description = schema.get("description", "")
            schema = {k: v for k, v in schema.items() if k != "description"}
            parameters.append(
                {"name": name, "in": "path", "required": True, "description": description, "schema": expand(schema)}
            )
        names = (*(PAGE_QUERY if entry and entry.paginated else ()), *(entry.query if entry else ()))
        parameters.extend(expand(QUERY_PARAMETERS[name]) for name in names)
        headers = ID_HEADERS if module_of(self.ocpi_path) in CONFIGURATION_MODULES else ID_HEADERS + ROUTING_HEADERS
        for name in headers:
            component = HEADER_COMPONENTS[name]
            parameters.append(
                {"name": name, "in": "header", "required": False, "description": component["description"]}
                | {"schema": component["schema"]}
            )
        return parameters

    # bodies

    def _schema_of(self, ref: Any, direction: Direction) -> dict[str, Any]:
        if isinstance(ref, str | type):
            return self.resolve_serializer(serializer_class(ref)(), direction).ref
        if isinstance(ref, Many):
            return {"type": "array", "items": self._schema_of(ref.serializer, direction)}
        if isinstance(ref, Patch):
            serializer = serializer_class(ref.serializer)(partial=True)
            component = self.resolve_serializer(serializer, direction)
            component.schema["required"] = ["last_updated"]
            return component.ref
        if isinstance(ref, AnyOf):
            return {"anyOf": [self._schema_of(path, direction) for path in ref.serializers]}
        return expand(ref)

    def _get_request_body(self, direction: Direction = "request") -> dict[str, Any] | None:
        entry = self.entry
        if self.method not in ("PUT", "PATCH", "POST"):
            return None
        if entry is None:
            return {"content": {"application/json": {"schema": {"type": "object"}}}}
        if entry.request is None:
            return None
        body: dict[str, Any] = {"content": {"application/json": {"schema": self._schema_of(entry.request, "request")}}}
        if entry.request_required:
            body["required"] = True
        return body

    def _get_response_bodies(self, direction: Direction = "response") -> dict[str, Any]:
        entry = self.entry
        module = module_of(self.ocpi_path)
        functional = module not in CONFIGURATION_MODULES
        common = {name: _header_ref(name) for name in ID_HEADERS}
        if functional:
            common.update({name: _header_ref(name) for name in ROUTING_HEADERS})

        def error(description: str, **extra_headers: dict[str, Any]) -> dict[str, Any]:
            return {
                "description": description,
                "headers": common | extra_headers,
                "content": {"application/json": {"schema": ERROR_REF}},
            }

        if entry is None:  # undocumented: the envelope only (undocumented_operations() reports it)
            success = _envelope({})
            data_description = "Success envelope"
        else:
            success = _envelope(NO_DATA if entry.data is NO_DATA else self._schema_of(entry.data, "response"))
            data_description = "OCPI status 1000 with the module's data, or an OCPI 2xxx/3xxx error in the envelope"
        ok_headers = dict(common)
        if entry is not None and entry.paginated:
            ok_headers.update({name: _header_ref(name) for name in ("X-Total-Count", "X-Limit", "Link")})
        if entry is not None and entry.location_header:
            ok_headers["Location"] = _header_ref("Location")
        body = {"application/json": {"schema": {"oneOf": [success, ERROR_REF]}}}
        responses: dict[str, Any] = {"200": {"description": data_description, "headers": ok_headers, "content": body}}
        if entry is not None and entry.created:
            responses["201"] = {"description": "Stored a new object", "headers": ok_headers, "content": body}
        malformed = (
            "Malformed request (OCPI 2001 naming what): a control character (NUL, CR, LF, ...) in the URL, "
            "malformed X-Request-ID/X-Correlation-ID or OCPI-from/to-* headers"
        )
        if self.method in ("PUT", "PATCH", "POST"):
            malformed += ", a NUL in the body; or (OCPI 2000) a body that is not JSON or nested too deeply"
        responses["400"] = error(malformed)
        responses["401"] = error(
            "No, an unknown, or a not allowed token (hubclientinfo: a partner that is not a Hub)",
            **{"WWW-Authenticate": _header_ref("WWW-Authenticate")},
        )
        for status in entry.statuses if entry else ():
            responses[str(status)] = error(_STATUS_TEXT[status])
        if "{" in self.path or functional:
            responses["404"] = error(
                "Unknown object or URL, an object or party the caller does not hold, an interface the caller's "
                "roles do not use (the Tokens Sender serves CPOs and Hubs), or (through a Hub) an unknown receiver"
            )
        if self.method in ("PUT", "PATCH", "POST"):
            responses["413"] = error("Request body too large")
            responses["415"] = error("A body whose Content-Type is not application/json (OCPI 2001)")
        responses["414"] = error("URL too long")
        responses["431"] = error("Request headers too large")
        responses["429"] = error("Rate limit exceeded", **{"Retry-After": _header_ref("Retry-After")})
        return dict(sorted(responses.items()))

    def get_extensions(self) -> dict[str, Any]:
        return {}


_STATUS_TEXT = {
    405: "Not allowed in the partner's registration state (credentials.md 1)",
}


def _envelope(data: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    if data is not NO_DATA:
        properties["data"] = data
        required.append("data")
    properties.update(
        {
            "status_code": {"type": "integer", "enum": [1000]},
            "status_message": {"type": "string"},
            "timestamp": DATETIME,
        }
    )
    return {"type": "object", "required": [*required, "status_code", "timestamp"], "properties": properties}
