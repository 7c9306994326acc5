"""What spans operations (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] and DEFAULT_GENERATOR_CLASS): the module
base URLs of the version details (Receivers have no method there), shared components, OCPI enum names, the
server; and `generate_schema()`, the document as served at /ocpi/schema/."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.generators import SchemaGenerator

from ..paths import mounted_endpoints
from ..wire import INTERNAL_VERSION, SUPPORTED_VERSIONS
from .types import DATETIME, ENUM_TYPES, HEADER_COMPONENTS, ID_HEADERS, MODULE_IDS, ROUTING_HEADERS, enum_values


def postprocess_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    result["paths"] = {path.rstrip("/") or "/": item for path, item in result.get("paths", {}).items()}
    base = settings.OCPI_BASE_URL

    components = result.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["OcpiErrorResponse"] = {
        "type": "object",
        "description": "The OCPI response envelope of an error (transport.md 5): status 2xxx, 3xxx or 4xxx",
        "required": ["status_code", "timestamp"],
        "properties": {
            "data": {"description": "Usually absent; a CommandResponse on 2003 (unknown location)"},
            "status_code": {"type": "integer", "minimum": 2000, "maximum": 4999},
            "status_message": {"type": "string"},
            "timestamp": DATETIME,
        },
    }
    schemas["ModuleID"] = {"type": "string", "enum": list(MODULE_IDS)}
    components["headers"] = {
        # The routing headers of an answer echo the request's (swapped, upper-cased), whatever was sent.
        name: {"description": header["description"], "schema": header["schema"]}
        | ({"schema": {"type": "string"}} if name in ROUTING_HEADERS else {})
        | ({"required": True} if name in (*ID_HEADERS, "Retry-After", "WWW-Authenticate") else {})
        for name, header in HEADER_COMPONENTS.items()
    }
    enums: dict[frozenset[str], str] = {}
    for dotted in ENUM_TYPES:
        name = dotted.rsplit(".", 1)[1]
        schemas[name] = {"type": "string", "enum": enum_values(dotted)}
        enums.setdefault(frozenset(enum_values(dotted)), name)
    result["paths"] = _name_enums(result["paths"], enums)
    for name, schema in list(schemas.items()):
        if schema.get("enum") is None:
            schemas[name] = _name_enums(schema, enums)
        if "properties" in schema and name != "OcpiErrorResponse":
            schemas[name].pop("description", None)  # serializer docstrings are notes for developers
    components["schemas"] = dict(sorted(schemas.items()))
    result["servers"] = [{"url": base, "description": "This platform (OCPI_BASE_URL)"}]
    result["components"] = _plain_numbers(components)
    result["info"]["description"] = SCHEMA_DESCRIPTION
    return result


def _add_base_urls(result: dict[str, Any]) -> None:
    """Every URL of the version details is in the document: Receiver base URLs have no operation of their own."""
    paths = result["paths"]
    for endpoint in mounted_endpoints():
        path = endpoint["url"].removeprefix(settings.OCPI_BASE_URL)
        item = paths.setdefault(path, {})
        if not any(method in item for method in ("get", "post", "put", "patch", "delete")):
            item["description"] = (
                f"Base URL of the {endpoint['identifier']} module ({endpoint['role']} interface) as listed in the "
                "version details; its operations are on the object URLs below it."
            )
        item.setdefault("x-ocpi-endpoints", []).append({"identifier": endpoint["identifier"], "role": endpoint["role"]})
    result["paths"] = dict(sorted(paths.items()))


class OcpiSchemaGenerator(SchemaGenerator):
    """drf-spectacular's generator, plus the module base URLs (added after its sanitizing, which expects
    operations only in path items)."""

    def _get_paths_and_endpoints(self) -> Any:
        """The document describes OCPI 2.2.1: the same views mounted for 2.1.1 and 2.3.0 (paths.versioned) speak
        those versions' shapes, which the converters in `<app>/wire.py` define, so they are left out."""
        other = (*(f"/{v}" for v in SUPPORTED_VERSIONS if v != INTERNAL_VERSION), "/{version}")
        return [
            endpoint
            for endpoint in super()._get_paths_and_endpoints()
            if not any(f"{part}/" in endpoint[0] + "/" for part in other)
        ]

    def get_schema(self, request: Any = None, public: bool = False) -> dict[str, Any]:
        result = super().get_schema(request=request, public=public)
        _add_base_urls(result)
        return result


def _plain_numbers(value: Any) -> Any:
    """Serializer bounds are Decimals (min_value=Decimal(0)): JSON numbers in the document, not strings."""
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _name_enums(value: Any, enums: dict[frozenset[str], str]) -> Any:
    """Replace each inline string enum that is an OCPI enum type by a $ref to it (nullable kept)."""
    if isinstance(value, list):
        return [_name_enums(v, enums) for v in value]
    if not isinstance(value, dict):
        return value
    values = value.get("enum")
    if isinstance(values, list) and "$ref" not in value:
        name = enums.get(frozenset(v for v in values if v not in (None, "")))
        if name is not None:
            rest = {k: v for k, v in value.items() if k not in ("enum", "type", "x-spec-enum-id")}
            return (
                {"allOf": [{"$ref": f"#/components/schemas/{name}"}], **rest}
                if rest
                else {"$ref": f"#/components/schemas/{name}"}
            )
    return {k: _name_enums(v, enums) for k, v in value.items() if k != "x-spec-enum-id"}


SCHEMA_DESCRIPTION = """\
The OCPI 2.2.1 interfaces of this platform, which is both a CPO and an eMSP.

* Every answer is the OCPI envelope `{data, status_code, status_message, timestamp}`. HTTP 200 may carry an
  error status (2001 invalid or missing parameters, 2003 unknown location, 3xxx, ...): check `status_code`.
* Authentication: `Authorization: Token <base64 of the credentials token>`.
* Sender lists are paginated: `offset`, `limit`, `date_from`, `date_to` in, `X-Total-Count`, `X-Limit` and
  (except on the last page) `Link: <next page>; rel="next"` out. The Link URL adds an opaque `cursor` to the
  spec's parameters: following it, a deep page costs as much as the first; `offset` alone keeps working.
* `X-Request-ID` / `X-Correlation-ID` are echoed (generated when absent); functional modules accept the
  `OCPI-from-*` / `OCPI-to-*` routing headers and answer with them swapped.
* Receiver URLs carry the owner's `country_code`/`party_id`, which must be a party the caller registered.
"""


def generate_schema() -> dict[str, Any]:
    """The OpenAPI document as served at /ocpi/schema/ (for tests and tools)."""
    return OcpiSchemaGenerator().get_schema(request=None, public=True)
