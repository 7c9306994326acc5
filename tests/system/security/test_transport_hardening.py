"""Malformed requests on every OCPI route: NUL and control characters, non-JSON bodies, OPTIONS, URL and header
sizes, routing and request-id headers. Each is refused with the envelope (never a 500) and still logged.

The NUL tests matter most on PostgreSQL (text columns cannot hold U+0000; SQLite accepts it and hides the bug):
`DATABASE_URL=postgres://... pytest tests/system/security/test_transport_hardening.py`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from ocpi_platform.ocpi.headers import FROM_CC, FROM_PID, TO_CC, TO_PID
from ocpi_platform.ocpi.middleware import MAX_HEADER_BYTES, MAX_URL_CHARS
from partners.models import MessageLog
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.system.security.conftest import assert_envelope, module_snapshot, raw_client
from tests.system.security.routes import Route, ocpi_routes

pytestmark = pytest.mark.django_db

BODY_METHODS = ("post", "put", "patch")


@pytest.fixture
def caller(db: Any, settings: Any) -> RegisteredPartner:
    """A partner holding a CPO and an eMSP party, so that Receiver URLs under its own parties reach the views."""
    settings.OCPI_RATE_LIMIT_PER_SECOND = 0  # hundreds of requests: the rate limit is tested elsewhere
    return make_registered_partner("Caller", [("EMSP", "DE", "EMP"), ("CPO", "BE", "BEC")])


def _own_path(route: Route, **values: str) -> str:
    """The route under the caller's own party (a CPO path addresses an eMSP party and the other way round)."""
    own = ("DE", "EMP") if route.path().startswith("/ocpi/cpo/") else ("BE", "BEC")
    return route.path(**{"country_code": own[0], "party_id": own[1], **values})


def _targets(*, methods: tuple[str, ...] | None = None) -> list[tuple[str, Route]]:
    out = []
    for route in ocpi_routes():
        for method in route.methods or ("get",):
            if methods is None or method in methods:
                out.append((method, route))
    return out


def _call(client: Any, method: str, path: str, body: bytes = b"", **extra: Any) -> tuple[Any, str]:
    request_id = str(uuid.uuid4())
    if method in BODY_METHODS and "content_type" not in extra:
        extra["content_type"] = "application/json"
    response = client.generic(method.upper(), path, body, HTTP_X_REQUEST_ID=request_id, **extra)
    return response, request_id


def _failures(checks: list[tuple[str, Any, str]], http_status: int, status_code: int) -> list[str]:
    """Each (label, response, request id) that is not the expected envelope, or left no message log row."""
    failures = []
    for label, response, request_id in checks:
        try:
            assert_envelope(response, http_status, status_code)
            assert response["X-Request-ID"] == request_id
            assert MessageLog.objects.filter(direction="IN", request_id=request_id).exists(), "no message log row"
        except AssertionError as exc:
            failures.append(f"{label}: {exc}")
    return failures


# --- NUL ------------------------------------------------------------------------------------------


def test_nul_in_the_url_path_is_2001_on_every_route(caller: RegisteredPartner) -> None:
    """%00 in each path parameter (and after routes without one): 400/2001, logged, nothing written."""
    before = module_snapshot()
    checks = []
    for method, route in _targets():
        paths = [_own_path(route, **{name: "a%00b"}) for name in route.params]
        paths.append(_own_path(route) + "%00")
        for path in paths:
            body = b"{}" if method in BODY_METHODS else b""
            response, request_id = _call(caller.client(), method, path, body)
            checks.append((f"{method.upper()} {path}", response, request_id))
    assert len(checks) > 100
    assert _failures(checks, 400, 2001) == []
    assert module_snapshot() == before


# Valid JSON holding a NUL is content an authenticated partner sent: HTTP 200 with OCPI 2001 (transport.md 6.1:
# valid JSON "MUST NOT be an HTTP error"); a raw NUL byte is not JSON at all: HTTP 400.
NUL_BODIES = [
    pytest.param(b'{"id": "a\\u0000b"}', 200, id="value"),
    pytest.param(b'{"unknown_field": {"deep": ["x", "\\u0000"]}}', 200, id="unknown-field"),
    pytest.param(b'{"ok": 1, "ke\\u0000y": 1}', 200, id="key"),
    pytest.param(b'{"id": "a\x00b"}', 400, id="raw-byte"),
]


@pytest.mark.parametrize(("body", "http_status"), NUL_BODIES)
def test_nul_in_the_json_body_is_2001_on_every_route(caller: RegisteredPartner, body: bytes, http_status: int) -> None:
    before = module_snapshot()
    checks = []
    for method, route in _targets(methods=BODY_METHODS):
        path = _own_path(route)
        response, request_id = _call(caller.client(), method, path, body)
        checks.append((f"{method.upper()} {path}", response, request_id))
    assert len(checks) >= 20
    assert _failures(checks, http_status, 2001) == []
    assert module_snapshot() == before


def test_nul_in_a_json_body_without_a_valid_token_is_401(db: Any) -> None:
    """The token is checked first: a caller without one learns nothing about the body's content."""
    client = raw_client(None)
    response, request_id = _call(client, "put", "/ocpi/cpo/2.2.1/tokens/DE/EMP/T1", b'{"uid": "T\\u00001"}')
    assert_envelope(response, 401)
    assert MessageLog.objects.filter(direction="IN", request_id=request_id).exists()


def test_nul_in_a_real_object_names_the_field(caller: RegisteredPartner) -> None:
    """A complete Token whose uid holds a NUL: refused before any query (the 500 PostgreSQL gave), field named."""
    from tests.examples import load_example

    token = load_example("token_put_example.json")
    token.update(country_code="DE", party_id="EMP", uid="T\u00001")
    response, request_id = _call(caller.client(), "put", "/ocpi/cpo/2.2.1/tokens/DE/EMP/T1", json.dumps(token).encode())
    body = assert_envelope(response, 200, 2001)
    assert "uid" in body["status_message"] and "NUL" in body["status_message"]
    row = MessageLog.objects.get(request_id=request_id)
    assert "\\u0000" in row.request_body and "\x00" not in row.request_body


def test_escaped_backslash_before_u0000_is_not_a_nul(caller: RegisteredPartner) -> None:
    """`\\\\u0000` in JSON is the text backslash-u0000: no NUL, the view decides (here 2001 for missing fields)."""
    response, _ = _call(caller.client(), "put", "/ocpi/cpo/2.2.1/tokens/DE/EMP/T1", b'{"uid": "\\\\u0000"}')
    body = assert_envelope(response, 200, 2001)
    assert "NUL" not in body["status_message"]


def test_message_log_stores_a_raw_nul_byte_escaped() -> None:
    from partners.services import message_log_record

    row = message_log_record(
        direction="IN",
        partner=None,
        method="PUT",
        url="/ocpi/x\x00y",
        http_status=400,
        ocpi_status=2001,
        duration_ms=1,
        request_id="r\x00id",
        correlation_id="c",
        request_body=b'{"a": "\x00"}',
        response_body=b"",
    )
    row.refresh_from_db()
    assert row.request_body == '{"a": "\\u0000"}'
    assert row.url == "/ocpi/x\\u0000y" and row.request_id == "r\\u0000id"


# --- Other control characters in the URL -------------------------------------------------------------


@pytest.mark.parametrize("bad", ["%0d%0a", "%0a", "%1b", "%7f", "%09"])
def test_control_characters_in_the_path_or_query_are_2001(caller: RegisteredPartner, bad: str) -> None:
    checks = []
    for path in (f"/ocpi/cpo/2.2.1/locations/L{bad}1", f"/ocpi/cpo/2.2.1/locations?date_from=x{bad}"):
        response, request_id = _call(caller.client(), "get", path)
        checks.append((path, response, request_id))
    assert _failures(checks, 400, 2001) == []
    assert "URL" in checks[0][1].json()["status_message"]


def test_printable_characters_in_the_path_are_left_to_the_view(caller: RegisteredPartner) -> None:
    """%20 or a non-ASCII letter is no control character: an unknown Location (404), not a transport refusal."""
    for path in ("/ocpi/cpo/2.2.1/locations/L%201", "/ocpi/cpo/2.2.1/locations/L%C3%A91"):
        response, _ = _call(caller.client(), "get", path)
        assert "Unknown location" in assert_envelope(response, 404)["status_message"]


# --- Content-Type ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/octet-stream", "text/json"]
)
def test_a_body_that_is_not_json_is_415_with_2001_on_every_route(caller: RegisteredPartner, content_type: str) -> None:
    before = module_snapshot()
    checks = []
    for method, route in _targets(methods=BODY_METHODS):
        path = _own_path(route)
        response, request_id = _call(caller.client(), method, path, b'{"a": 1}', content_type=content_type)
        checks.append((f"{method.upper()} {path}", response, request_id))
    assert _failures(checks, 415, 2001) == []
    assert "Content-Type" in checks[0][1].json()["status_message"]
    assert module_snapshot() == before


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON", "", None]
)
def test_json_content_types_and_a_missing_one_are_accepted(caller: RegisteredPartner, content_type: Any) -> None:
    """The view answers (2001 for the missing fields), not the transport check; no Content-Type is tolerated."""
    extra = {} if content_type is None else {"content_type": content_type}
    if content_type is None:  # the test client would send application/octet-stream: remove the header itself
        extra["CONTENT_TYPE"] = ""
    response, _ = _call(caller.client(), "put", "/ocpi/cpo/2.2.1/tokens/DE/EMP/T1", b'{"a": 1}', **extra)
    body = assert_envelope(response, 200, 2001)
    assert "Content-Type" not in body["status_message"]


def test_content_type_without_a_body_is_not_checked(caller: RegisteredPartner) -> None:
    response, _ = _call(caller.client(), "post", "/ocpi/emsp/2.2.1/tokens/T1/authorize", b"", content_type="text/plain")
    assert response.status_code != 415


# --- OPTIONS -----------------------------------------------------------------------------------------


def test_options_answers_the_envelope_with_allow_on_every_route(caller: RegisteredPartner) -> None:
    """With a token the route serves: 200/1000 and `Allow`; without: 401 (hubclientinfo serves Hubs only)."""
    failures = []
    hub = make_registered_partner("Hub", [("HUB", "NL", "HUB")])
    for route in ocpi_routes():
        path = _own_path(route)
        response = caller.client().options(path)
        if "hubclientinfo/" in path:
            response = hub.client().options(path)
        try:
            body = assert_envelope(response, 200, 1000)
            assert "data" not in body, body
            allowed = {m.strip() for m in response["Allow"].split(",")}
            assert {m.upper() for m in route.methods} | {"OPTIONS"} <= allowed, allowed
        except (AssertionError, KeyError) as exc:
            failures.append(f"OPTIONS {path}: {exc}")
        refused = raw_client(None).options(path)
        if refused.status_code != 401 or refused.json().get("status_code") != 2000:
            failures.append(f"OPTIONS {path} without a token: {refused.status_code}")
    assert failures == []


# --- URL and header sizes -------------------------------------------------------------------------------


def test_url_over_the_limit_is_414_envelope(caller: RegisteredPartner) -> None:
    long_id = "L" * (MAX_URL_CHARS + 1)
    response, request_id = _call(caller.client(), "get", f"/ocpi/cpo/2.2.1/locations/{long_id}")
    assert _failures([("path", response, request_id)], 414, 2000) == []
    response, request_id = _call(caller.client(), "get", "/ocpi/cpo/2.2.1/locations?x=" + "a" * MAX_URL_CHARS)
    assert _failures([("query", response, request_id)], 414, 2000) == []
    ok, _ = _call(caller.client(), "get", "/ocpi/cpo/2.2.1/locations/" + "L" * 200)
    assert ok.status_code == 404  # long but under the limit: the view's answer


def test_headers_over_the_limit_are_431_envelope(caller: RegisteredPartner) -> None:
    response, request_id = _call(
        caller.client(), "get", "/ocpi/cpo/2.2.1/locations", HTTP_X_PADDING="p" * MAX_HEADER_BYTES
    )
    assert _failures([("headers", response, request_id)], 431, 2000) == []
    ok, _ = _call(caller.client(), "get", "/ocpi/cpo/2.2.1/locations", HTTP_X_PADDING="p" * 4000)
    assert_envelope(ok, 200, 1000)


# --- Routing and request-id headers ----------------------------------------------------------------


BAD_ROUTING = [
    pytest.param({FROM_CC: "DEU", FROM_PID: "EMP"}, FROM_CC, id="country-code-3-letters"),
    pytest.param({FROM_CC: "D1", FROM_PID: "EMP"}, FROM_CC, id="country-code-digit"),
    pytest.param({FROM_CC: "DE", FROM_PID: "EM"}, FROM_PID, id="party-id-2-chars"),
    pytest.param({FROM_CC: "DE", FROM_PID: "EMPX"}, FROM_PID, id="party-id-4-chars"),
    pytest.param({FROM_CC: "DE"}, FROM_PID, id="from-party-id-missing"),
    pytest.param({TO_PID: "BEC"}, TO_CC, id="to-country-code-missing"),
    pytest.param({FROM_CC: "DE", FROM_PID: "E\x01P"}, FROM_PID, id="control-character"),
    pytest.param({TO_CC: "B\x00", TO_PID: "BEC"}, TO_CC, id="nul"),
    pytest.param({FROM_CC: "DE", FROM_PID: "EMP", TO_CC: "BE", TO_PID: "B C"}, TO_PID, id="space"),
]


def _meta(headers: dict[str, str]) -> dict[str, str]:
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


@pytest.mark.parametrize(("headers", "named"), BAD_ROUTING)
def test_malformed_routing_headers_are_2001_naming_the_header(
    caller: RegisteredPartner, headers: dict[str, str], named: str
) -> None:
    checks = []
    for method, path, body in (
        ("get", "/ocpi/cpo/2.2.1/locations", b""),
        ("put", "/ocpi/cpo/2.2.1/tokens/DE/EMP/T1", b"{}"),
        ("post", "/ocpi/emsp/2.2.1/tokens/T1/authorize", b""),
    ):
        response, request_id = _call(caller.client(), method, path, body, **_meta(headers))
        checks.append((f"{method.upper()} {path}", response, request_id))
        assert named in response.json()["status_message"], response.json()
        assert TO_CC not in response and FROM_CC not in response  # nothing malformed is echoed
    assert _failures(checks, 400, 2001) == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {FROM_CC: "DE", FROM_PID: "EMP"},  # FROM alone (open routing; single-role peers)
        {TO_CC: "NL", TO_PID: "EXA"},  # TO alone
        {FROM_CC: "de", FROM_PID: "emp", TO_CC: "nl", TO_PID: "exa"},  # CiString: any case
    ],
)
def test_well_formed_routing_headers_pass(caller: RegisteredPartner, headers: dict[str, str]) -> None:
    response, _ = _call(caller.client(), "get", "/ocpi/cpo/2.2.1/locations", **_meta(headers))
    assert_envelope(response, 200, 1000)


def test_routing_headers_are_not_checked_on_configuration_modules(caller: RegisteredPartner) -> None:
    """They SHALL NOT be used there (transport.md 8.1): whatever a partner sends is ignored, not refused."""
    bad = _meta({FROM_CC: "DEU", FROM_PID: "X"})
    for path in ("/ocpi/versions", "/ocpi/2.2.1", "/ocpi/2.2.1/credentials"):
        response, _ = _call(caller.client(), "get", path, **bad)
        assert_envelope(response, 200, 1000)


@pytest.mark.parametrize("header", ["HTTP_X_REQUEST_ID", "HTTP_X_CORRELATION_ID"])
@pytest.mark.parametrize("value", ["abc\r\nINFO forged", "abc\x00", "\x1b[31m"])
def test_request_ids_with_control_characters_are_2001_and_not_echoed(
    caller: RegisteredPartner, header: str, value: str
) -> None:
    client = caller.client()
    response = client.get("/ocpi/cpo/2.2.1/locations", **{header: value})
    body = assert_envelope(response, 400, 2001)
    name = "X-Request-ID" if header == "HTTP_X_REQUEST_ID" else "X-Correlation-ID"
    assert name in body["status_message"]
    echoed = response["X-Request-ID"], response["X-Correlation-ID"]
    assert value not in echoed and all(uuid.UUID(v) for v in echoed)  # fresh ids, still answered
    assert MessageLog.objects.filter(request_id=response["X-Request-ID"]).exists()


# --- HubClientInfo refuses like every module ------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Token", "Token dW5rbm93bg=="])
def test_hubclientinfo_missing_or_unknown_token_is_401(db: Any, header: str | None) -> None:
    for method in ("get", "put"):
        response = getattr(raw_client(header), method)("/ocpi/2.2.1/hubclientinfo/DE/EMP", {}, format="json")
        assert_envelope(response, 401, 2000)
        assert response["WWW-Authenticate"] == "Token"


def test_hubclientinfo_non_hub_partner_is_401_not_403(caller: RegisteredPartner) -> None:
    for method in ("get", "put"):
        response = getattr(caller.client(), method)("/ocpi/2.2.1/hubclientinfo/DE/AAA", {}, format="json")
        body = assert_envelope(response, 401, 2000)
        assert response["WWW-Authenticate"] == "Token"
        assert "Hub" in body["status_message"]
