"""The outbound OcpiClient against the fake partner on a real loopback HTTP server, and its URL safety checks."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings

from ocpi_platform.ocpi import client as client_module
from ocpi_platform.ocpi.client import (
    OcpiClient,
    OcpiPermanentError,
    OcpiTransientError,
    OcpiUrlRefused,
    check_url,
    join_url,
    pinned_session,
)
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.ttlcache import TtlCache
from tests.fake_partner import FakePartner, envelope


def ok(data: Any = None, status_code: int = 1000) -> bytes:
    """An OCPI envelope as the partner's answer body."""
    return envelope(status_code, data)


@pytest.fixture
def server() -> Iterator[FakePartner]:
    """The fake partner (tests/fake_partner.py): `responses[path]` are the scripted answers, `requests` what came."""
    fake = FakePartner(check_token=False)
    yield fake
    fake.stop()


@pytest.fixture
def client() -> OcpiClient:
    return OcpiClient(
        token="secret-token",
        from_party=PartyRef("NL", "EXA"),
        to_party=PartyRef("DE", "EMP"),
        timeout=1.0,
    )


@pytest.mark.django_db
def test_headers_auth_routing_and_ids(server: FakePartner, client: OcpiClient) -> None:
    server.responses["/x"] = (200, ok(data={"a": 1}))
    result = client.put(f"{server.base}/x", json={"b": 2})
    assert result.data == {"a": 1}
    first = server.requests[0]
    method, headers, body = first.method, first.headers, first.body
    assert method == "PUT"
    assert headers["Authorization"] == "Token c2VjcmV0LXRva2Vu"
    assert headers["Content-Type"] == "application/json"
    assert body == {"b": 2}
    assert headers["OCPI-from-country-code"] == "NL" and headers["OCPI-from-party-id"] == "EXA"
    assert headers["OCPI-to-country-code"] == "DE" and headers["OCPI-to-party-id"] == "EMP"
    assert len(headers["X-Request-ID"]) == 36 and headers["X-Correlation-ID"]
    client.get(f"{server.base}/x", routing=False)
    assert "OCPI-from-country-code" not in server.requests[1].headers
    assert server.requests[0].headers["X-Request-ID"] != server.requests[1].headers["X-Request-ID"]


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
def test_status_mapping(server: FakePartner, client: OcpiClient, http: int, code: int | None, error: type) -> None:
    server.responses["/x"] = (http, ok(status_code=code or 2000))
    with pytest.raises(error):
        client.get(f"{server.base}/x")


@pytest.mark.django_db
def test_429_carries_retry_after(server: FakePartner, client: OcpiClient) -> None:
    server.responses["/x"] = (429, ok(status_code=2000), {"Retry-After": "7"})
    with pytest.raises(OcpiTransientError) as info:
        client.get(f"{server.base}/x")
    assert info.value.retry_after == 7.0
    assert info.value.http_status == 429


@pytest.mark.django_db
def test_not_json_is_permanent(server: FakePartner, client: OcpiClient) -> None:
    server.responses["/x"] = (200, b"<html>hello</html>")
    with pytest.raises(OcpiPermanentError, match="no OCPI envelope"):
        client.get(f"{server.base}/x")


@pytest.mark.django_db
def test_timeout_and_connection_refused_are_transient(server: FakePartner, client: OcpiClient) -> None:
    server.responses["/slow"] = (200, ok())
    server.stall(2.0, times=1)
    with pytest.raises(OcpiTransientError, match="Timeout"):
        client.get(f"{server.base}/slow")
    with pytest.raises(OcpiTransientError, match="Connection error"):
        client.get("http://127.0.0.1:9/nothing")


@pytest.mark.django_db
def test_iter_pages_follows_link(server: FakePartner, client: OcpiClient) -> None:
    link = f'<{server.base}/list/2?offset=2&limit=2>; rel="next"'
    server.responses["/list/1"] = (200, ok(data=[1, 2]), {"Link": link})
    server.responses["/list/2"] = (200, ok(data=[3]))
    pages = [page.data for page in client.iter_pages(f"{server.base}/list/1", params={"limit": 2})]
    assert pages == [[1, 2], [3]]
    assert server.requests[0].path == "/list/1?limit=2"
    assert server.requests[1].path == "/list/2?offset=2&limit=2"


@pytest.mark.django_db
def test_outbound_calls_are_logged_without_authorization(server: FakePartner, client: OcpiClient) -> None:
    from partners.models import MessageLog

    server.responses["/x"] = (200, ok(data={"token": "partner-secret"}))
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
def test_a_host_that_passed_is_not_resolved_again_for_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    """The early check resolves a partner's host once per CHECKED_HOST_SECONDS, not per request (a DNS query per
    push); a refusal is never kept, the allowed networks are part of what was checked, and the time runs out."""
    answers = {"partner.example": "93.184.216.34", "evil.example": "10.0.0.1"}
    lookups: list[str] = []

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    now = [0.0]
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setattr(client_module, "_checked_hosts", TtlCache(clock=lambda: now[0]))
    for _ in range(3):
        check_url("https://partner.example/ocpi/2.2.1/locations/NL/EXA/1")
    assert lookups == ["partner.example"]
    for _ in range(2):
        with pytest.raises(OcpiUrlRefused):
            check_url("https://evil.example/ocpi/versions")
    assert lookups.count("evil.example") == 2
    with override_settings(OCPI_ALLOWED_PRIVATE_NETWORKS=["10.0.0.0/8"]):
        check_url("https://partner.example/x")  # other allowed networks: checked again
    assert lookups.count("partner.example") == 2
    # Its DNS changed: within the time the early check passes (a new connection is still checked at connect
    # time), once the time ran out it refuses.
    answers["partner.example"] = "127.0.0.1"
    check_url("https://partner.example/x")
    assert lookups.count("partner.example") == 2
    now[0] += client_module.CHECKED_HOST_SECONDS
    with pytest.raises(OcpiUrlRefused):
        check_url("https://partner.example/x")


@override_settings(OCPI_ALLOW_HTTP_URLS=False, OCPI_ALLOWED_PRIVATE_NETWORKS=[])
@pytest.mark.django_db
def test_refused_url_opens_no_connection(server: FakePartner, client: OcpiClient) -> None:
    server.responses["/x"] = (200, ok())
    with pytest.raises(OcpiUrlRefused):
        client.get(f"{server.base}/x")
    assert server.requests == []


def test_join_url_uses_one_slash() -> None:
    assert join_url("https://a/b/", "/NL/", "EXA", "loc1/") == "https://a/b/NL/EXA/loc1"


# --- the environment, read once per session (issue 17: ~0.4 ms per request otherwise) --------------------


def _no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.django_db
def test_a_netrc_entry_never_replaces_the_ocpi_token(
    server: FakePartner, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_proxy_env(monkeypatch)
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    session = pinned_session()
    assert session.trust_env is False
    client = OcpiClient(token="secret-token", timeout=1.0, session=session)
    server.responses["/x"] = (200, ok())
    client.get(f"{server.base}/x")
    assert server.requests[0].headers["Authorization"] == "Token c2VjcmV0LXRva2Vu"  # not Basic from .netrc


def test_the_ca_bundle_variable_still_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_proxy_env(monkeypatch)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/private-ca.pem")
    assert pinned_session().verify == "/etc/ssl/private-ca.pem"
    monkeypatch.delenv("CURL_CA_BUNDLE")
    assert pinned_session().verify is True


def test_with_proxy_variables_requests_keeps_reading_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_proxy_env(monkeypatch)
    assert pinned_session().trust_env is False
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    session = pinned_session()
    assert session.trust_env is True  # proxies and their no_proxy rules are per URL
