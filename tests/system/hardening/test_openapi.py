"""The OpenAPI document: valid, served without a token and without the envelope, and complete (every URL of the
version details and every OCPI route of the URLconf, with its methods, the envelope, pagination, auth)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.conf import settings
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

from ocpi_platform.ocpi.openapi import generate_schema, undocumented_operations
from ocpi_platform.ocpi.versions import mounted_endpoints
from partners.models import MessageLog
from tests.system.security.routes import ocpi_routes

METHODS = ("get", "post", "put", "patch", "delete")
SENDER_MODULES = ("locations", "tariffs", "tokens", "sessions", "cdrs")


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return generate_schema()


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        kind = node["$ref"].split("/")[2]
        node = schema["components"][kind][name]
    return node


def _schema_path(pattern: str) -> str:
    """A URLconf regex (tests/system/security/routes.py) in the document's notation: /ocpi/.../{name}."""
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    text = text.replace("^", "").replace("$", "").replace("/?", "").replace("\\", "")
    return "/" + text.lstrip("/")


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_openapi_document_is_valid(schema: dict[str, Any]) -> None:
    validate_schema(schema)  # drf-spectacular's OpenAPI 3.0 JSON-schema check; raises on any violation
    assert schema["openapi"].startswith("3.0")
    assert schema["servers"] == [{"url": settings.OCPI_BASE_URL, "description": "This platform (OCPI_BASE_URL)"}]


def test_openapi_every_view_method_declares_its_operation() -> None:
    assert undocumented_operations() == []


def test_openapi_lists_every_url_of_the_version_details(schema: dict[str, Any]) -> None:
    endpoints = mounted_endpoints()
    assert len(endpoints) >= 15  # credentials + every module and role we mount
    for endpoint in endpoints:
        path = endpoint["url"].removeprefix(settings.OCPI_BASE_URL)
        assert path in schema["paths"], endpoint
        announced = schema["paths"][path]["x-ocpi-endpoints"]
        assert {"identifier": endpoint["identifier"], "role": endpoint["role"]} in announced


def test_openapi_lists_every_ocpi_route_with_its_methods(schema: dict[str, Any]) -> None:
    # The document describes OCPI 2.2.1; the 2.1.1 and 2.3.0 mounts of the same views are left out.
    routes = [route for route in ocpi_routes() if route.ocpi_version == "2.2.1" and "version>" not in route.pattern]
    assert len(routes) >= 30
    for route in routes:
        path = _schema_path(route.pattern)
        assert path in schema["paths"], (route.name, path)
        documented = {m for m in METHODS if m in schema["paths"][path]}
        assert documented == set(route.methods), (path, documented, route.methods)
        for name in route.params:  # every path parameter is declared on every operation
            for method in route.methods:
                declared = {p["name"] for p in schema["paths"][path][method]["parameters"] if p["in"] == "path"}
                assert name in declared, (path, method, name)
    # and nothing else: every documented operation is a route of the URLconf
    paths = {_schema_path(route.pattern) for route in routes}
    assert {path for path, _m, _o in _operations(schema)} <= paths


def test_openapi_operations_carry_auth_envelope_and_headers(schema: dict[str, Any]) -> None:
    scheme = schema["components"]["securitySchemes"]["OcpiToken"]
    assert scheme == scheme | {"type": "apiKey", "in": "header", "name": "Authorization"}
    operation_ids = set()
    for path, method, operation in _operations(schema):
        where = f"{method.upper()} {path}"
        assert operation["operationId"] not in operation_ids, where
        operation_ids.add(operation["operationId"])
        assert operation["security"] == [{"OcpiToken": []}], where
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert {"X-Request-ID", "X-Correlation-ID"} <= headers, where
        if not path.startswith(("/ocpi/versions", "/ocpi/2.2.1")):
            assert {"OCPI-from-country-code", "OCPI-from-party-id", "OCPI-to-country-code", "OCPI-to-party-id"} <= (
                headers
            ), where
        responses = operation["responses"]
        assert {"200", "401", "429"} <= set(responses), where
        for status, response in responses.items():
            assert {"X-Request-ID", "X-Correlation-ID"} <= set(response["headers"]), (where, status)
            body = response["content"]["application/json"]["schema"]
            if status.startswith("2"):
                success, error = body["oneOf"]
                assert success["required"][-2:] == ["status_code", "timestamp"], where
                assert success["properties"]["status_code"] == {"type": "integer", "enum": [1000]}
                assert error == {"$ref": "#/components/schemas/OcpiErrorResponse"}
            else:
                assert body == {"$ref": "#/components/schemas/OcpiErrorResponse"}, (where, status)
        assert "Retry-After" in responses["429"]["headers"], where
        if method in ("put", "patch", "post") and "requestBody" in operation:
            assert "application/json" in operation["requestBody"]["content"], where


def test_openapi_sender_lists_are_paginated(schema: dict[str, Any]) -> None:
    lists = [
        (path, operation)
        for path, method, operation in _operations(schema)
        if method == "get"
        and "{" not in path
        and path.rsplit("/", 1)[1] in ("locations", "tariffs", "tokens", "sessions", "cdrs")
    ]
    assert {path for path, _ in lists} == {
        "/ocpi/cpo/2.2.1/locations",
        "/ocpi/cpo/2.2.1/tariffs",
        "/ocpi/cpo/2.2.1/sessions",
        "/ocpi/cpo/2.2.1/cdrs",
        "/ocpi/emsp/2.2.1/tokens",
    }
    for path, operation in lists:
        query = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "query"}
        assert set(query) == {"offset", "limit", "date_from", "date_to", "cursor"}, path
        assert query["limit"] == {"type": "integer", "minimum": 0}
        assert {"X-Total-Count", "X-Limit", "Link"} <= set(operation["responses"]["200"]["headers"]), path
        data = operation["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"][0]
        assert data["properties"]["data"]["type"] == "array", path


def test_openapi_objects_carry_the_spec_types_lengths_and_enums(schema: dict[str, Any]) -> None:
    from locations.constants import ConnectorType
    from tokens.models import WhitelistType

    components = schema["components"]["schemas"]
    location = components["Location"]
    assert set(location["required"]) >= {"country_code", "party_id", "id", "publish", "address", "last_updated"}
    assert location["properties"]["id"]["maxLength"] == 36
    assert location["properties"]["country_code"]["maxLength"] == 2
    assert location["properties"]["coordinates"] == {"$ref": "#/components/schemas/GeoLocation"}
    assert location["properties"]["last_updated"]["pattern"].startswith("^[0-9]{4}")
    assert location["properties"]["evses"]["items"] == {"$ref": "#/components/schemas/Evse"}
    connector = components["Connector"]
    assert connector["properties"]["standard"] == {"$ref": "#/components/schemas/ConnectorType"}
    assert components["ConnectorType"]["enum"] == list(ConnectorType.values)
    assert connector["properties"]["max_voltage"]["type"] == "integer"
    token = components["Token"]
    assert token["properties"]["whitelist"] == {"$ref": "#/components/schemas/WhitelistType"}
    assert components["WhitelistType"]["enum"] == list(WhitelistType.values)
    assert token["properties"]["valid"]["type"] == "boolean"
    assert components["PatchedToken"]["required"] == ["last_updated"]
    cdr = components["Cdr"]
    assert cdr["properties"]["id"]["maxLength"] == 39
    assert cdr["properties"]["total_cost"] == {"$ref": "#/components/schemas/CdrsPrice"}
    assert cdr["properties"]["total_energy"]["type"] == "number"
    assert cdr["properties"]["charging_periods"]["minItems"] == 1
    assert components["Tariff"]["properties"]["elements"]["items"] == {"$ref": "#/components/schemas/TariffElement"}
    assert components["Session"]["properties"]["cdr_token"] == {"$ref": "#/components/schemas/SessionsCdrToken"}
    # every $ref resolves
    text = json.dumps(schema)
    for ref in set(re.findall(r'"\$ref": "#/components/(\w+)/([\w.-]+)"', text)):
        assert ref[1] in schema["components"][ref[0]], ref


def test_openapi_commands_and_receivers_bodies(schema: dict[str, Any]) -> None:
    command = schema["paths"]["/ocpi/cpo/2.2.1/commands/{command}"]["post"]
    body = command["requestBody"]["content"]["application/json"]["schema"]
    assert len(body["anyOf"]) == 5
    patch = schema["paths"]["/ocpi/emsp/2.2.1/locations/{country_code}/{party_id}/{location_id}"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PatchedLocation"
    }
    cdr_post = schema["paths"]["/ocpi/emsp/2.2.1/cdrs"]["post"]["responses"]
    assert "Location" in cdr_post["201"]["headers"]


@pytest.mark.django_db
def test_openapi_served_without_token_or_envelope(client: Any) -> None:
    before = MessageLog.objects.count()
    response = APIClient().get("/ocpi/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:300]
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.0") and "status_code" not in document
    assert document == json.loads(json.dumps(generate_schema()))  # served as generated (numbers stay numbers)
    validate_schema(document)
    assert "/ocpi/cpo/2.2.1/locations" in document["paths"]
    assert "X-Request-ID" not in response  # not treated as an OCPI request
    yaml = client.get("/ocpi/schema/")
    assert yaml.status_code == 200 and yaml.content.startswith(b"openapi: 3.0")
    for page in ("/ocpi/schema/docs/", "/ocpi/schema/redoc/"):
        html = client.get(page)
        assert html.status_code == 200 and html["Content-Type"].startswith("text/html"), page
        assert b"/ocpi/schema/" in html.content
    assert MessageLog.objects.count() == before  # the OCPI message log only records OCPI traffic


@pytest.mark.django_db
def test_openapi_schema_route_does_not_open_the_ocpi_urls(client: Any) -> None:
    """The middleware change is limited to /ocpi/schema/: other /ocpi/ URLs keep the envelope and the token."""
    response = client.get("/ocpi/cpo/2.2.1/locations")
    assert response.status_code == 401 and response.json()["status_code"] == 2000
    unknown = client.get("/ocpi/schemas")
    assert unknown.status_code == 404 and unknown.json()["status_code"] == 2000
