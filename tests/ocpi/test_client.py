"""The outbound OcpiClient against a real loopback HTTP server, and its URL safety checks."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings

from ocpi_platform.ocpi.client import (
    OcpiClient,
    OcpiPermanentError,
    OcpiTransientError,
    OcpiUrlRefused,
    check_url,
    join_url,
)
from ocpi_platform.ocpi.headers import PartyRef


class Server:
    """Answers each path with a scripted (status, body, headers, delay) and records requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, Any, dict[str, str], float]] = {}
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.seen.append((self.command, self.path, dict(self.headers.items()), self.rfile.read(length)))
                status, body, headers, delay = server.routes.get(self.path.split("?")[0], (404, None, {}, 0))
                time.sleep(delay)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value.replace("{base}", server.base))
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = _any  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def ok(self, path: str, data: Any = None, status_code: int = 1000, http: int = 200, **kw: Any) -> None:
        body = {"status_code": status_code, "timestamp": "2026-01-01T00:00:00Z"}
        if data is not None:
            body["data"] = data
        self.routes[path] = (http, body, kw.get("headers", {}), kw.get("delay", 0))


@pytest.fixture
def server() -> Any:
    srv = Server()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def client() -> OcpiClient:
    return OcpiClient(
        token="secret-token",
        from_party=PartyRef("NL", "EXA"),
        to_party=PartyRef("DE", "EMP"),
        timeout=1.0,
    )


@pytest.mark.django_db
def test_headers_auth_routing_and_ids(server: Server, client: OcpiClient) -> None:
    server.ok("/x", data={"a": 1})
    result = client.put(f"{server.base}/x", json={"b": 2})
    assert result.data == {"a": 1}
    method, _, headers, body = server.seen[0]
    assert method == "PUT"
    assert headers["Authorization"] == "Token c2VjcmV0LXRva2Vu"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"b": 2}
    assert headers["OCPI-from-country-code"] == "NL" and headers["OCPI-from-party-id"] == "EXA"
    assert headers["OCPI-to-country-code"] == "DE" and headers["OCPI-to-party-id"] == "EMP"
    assert len(headers["X-Request-ID"]) == 36 and headers["X-Correlation-ID"]
    client.get(f"{server.base}/x", routing=False)
    assert "OCPI-from-country-code" not in server.seen[1][2]
    assert server.seen[0][2]["X-Request-ID"] != server.seen[1][2]["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("http", "code", "error"),
    [
        (503, None, OcpiTransientError),
        (500, 3000, OcpiTransientError),
        (200, 3000, OcpiTransientError),
        (404, 2000, OcpiPermanentError),
        (400, 2001, OcpiPermanentError),
        (200, 2001, OcpiPermanentError),
        (200, 3003, OcpiPermanentError),
        (401, None, OcpiPermanentError),
    ],
)
def test_status_mapping(server: Server, client: OcpiClient, http: int, code: int | None, error: type) -> None:
    server.ok("/x", status_code=code or 2000, http=http)
    with pytest.raises(error):
        client.get(f"{server.base}/x")


@pytest.mark.django_db
def test_429_carries_retry_after(server: Server, client: OcpiClient) -> None:
    server.ok("/x", http=429, headers={"Retry-After": "7"})
    with pytest.raises(OcpiTransientError) as info:
        client.get(f"{server.base}/x")
    assert info.value.retry_after == 7.0
    assert info.value.http_status == 429


@pytest.mark.django_db
def test_not_json_is_permanent(server: Server, client: OcpiClient) -> None:
    server.routes["/x"] = (200, b"<html>hello</html>", {}, 0)
    with pytest.raises(OcpiPermanentError, match="no OCPI envelope"):
        client.get(f"{server.base}/x")


@pytest.mark.django_db
def test_timeout_and_connection_refused_are_transient(server: Server, client: OcpiClient) -> None:
    server.ok("/slow", delay=2.0)
    with pytest.raises(OcpiTransientError, match="Timeout"):
        client.get(f"{server.base}/slow")
    with pytest.raises(OcpiTransientError, match="Connection error"):
        client.get("http://127.0.0.1:9/nothing")


@pytest.mark.django_db
def test_iter_pages_follows_link(server: Server, client: OcpiClient) -> None:
    server.ok("/list", data=[1, 2], headers={"Link": '<{base}/list2?offset=2&limit=2>; rel="next"'})
    server.ok("/list2", data=[3])
    pages = [page.data for page in client.iter_pages(f"{server.base}/list", params={"limit": 2})]
    assert pages == [[1, 2], [3]]
    assert server.seen[0][1] == "/list?limit=2"
    assert server.seen[1][1] == "/list2?offset=2&limit=2"


@pytest.mark.django_db
def test_outbound_calls_are_logged_without_authorization(server: Server, client: OcpiClient) -> None:
    from partners.models import MessageLog

    server.ok("/x", data={"token": "partner-secret"})
    client.post(f"{server.base}/x", json={"token": "our-secret", "v": 1})
    row = MessageLog.objects.get()
    assert row.direction == "OUT" and row.method == "POST" and row.http_status == 200 and row.ocpi_status == 1000
    assert "our-secret" not in row.request_body and "partner-secret" not in row.response_body
    assert "secret-token" not in row.request_body + row.response_body
    assert '"v":1' in row.request_body


def fake_resolver(address: str) -> Any:
    def resolve(host: str, port: int, *args: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    return resolve


@override_settings(OCPI_ALLOW_HTTP_URLS=False, OCPI_ALLOWED_PRIVATE_NETWORKS=[])
@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "::1", "fe80::1", "0.0.0.0"]
)
def test_production_refuses_non_public_addresses(address: str) -> None:
    with pytest.raises(OcpiUrlRefused, match="non-public"):
        check_url("https://partner.example/ocpi/versions", resolver=fake_resolver(address))


@override_settings(OCPI_ALLOW_HTTP_URLS=False, OCPI_ALLOWED_PRIVATE_NETWORKS=[])
def test_production_refuses_http_and_odd_schemes() -> None:
    for url in ("http://partner.example/ocpi/versions", "ftp://partner.example/x", "file:///etc/passwd", "/relative"):
        with pytest.raises(OcpiUrlRefused):
            check_url(url, resolver=fake_resolver("93.184.216.34"))
    check_url("https://partner.example/ocpi/versions", resolver=fake_resolver("93.184.216.34"))


@override_settings(OCPI_ALLOW_HTTP_URLS=False, OCPI_ALLOWED_PRIVATE_NETWORKS=[])
@pytest.mark.django_db
def test_refused_url_opens_no_connection(server: Server, client: OcpiClient) -> None:
    server.ok("/x")
    with pytest.raises(OcpiUrlRefused):
        client.get(f"{server.base}/x")
    assert server.seen == []


def test_join_url_uses_one_slash() -> None:
    assert join_url("https://a/b/", "/NL/", "EXA", "loc1/") == "https://a/b/NL/EXA/loc1"
