"""Partner-supplied URLs (versions, endpoints, Link, response_url) at loopback, private or link-local addresses,
or with a non-https scheme, are refused in production settings before any connection is opened.

No test here contacts such an address: name resolution is stubbed, and any socket connect fails the test.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
import requests
from django.test import override_settings

from ocpi_platform.ocpi import client as client_module
from ocpi_platform.ocpi.client import OcpiClient, OcpiUrlRefused
from ocpi_platform.ocpi.tokens import token_encode_header
from partners.client import partner_client
from partners.models import PartnerEndpoint, PartnerState
from partners.services import partner_invite
from tests.conftest import make_registered_partner
from tests.system.security.conftest import assert_envelope, raw_client

PRODUCTION = override_settings(OCPI_ALLOW_HTTP_URLS=False, OCPI_ALLOWED_PRIVATE_NETWORKS=[])

# Names a partner could give us and what our stub DNS answers for them.
DNS = {
    "partner.example": "93.184.216.34",  # public: allowed (the request itself goes to a stub session)
    "metadata.partner.example": "169.254.169.254",
    "intranet.partner.example": "10.0.0.1",
    "loopback.partner.example": "127.0.0.1",
    "v6.partner.example": "::1",
}

REFUSED_URLS = [
    "http://127.0.0.1/ocpi/versions",
    "https://127.0.0.1/ocpi/versions",
    "https://127.1.2.3:8443/ocpi/versions",
    "https://localhost/ocpi/versions",
    "https://[::1]/ocpi/versions",
    "https://[::ffff:127.0.0.1]/ocpi/versions",
    "https://10.0.0.1/ocpi/versions",
    "https://172.16.5.4/ocpi/versions",
    "https://192.168.0.10/ocpi/versions",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/ocpi/versions",
    "https://[fd00::1]/ocpi/versions",
    "https://0.0.0.0/ocpi/versions",
    "https://metadata.partner.example/ocpi/versions",
    "https://intranet.partner.example/ocpi/versions",
    "https://loopback.partner.example/ocpi/versions",
    "https://v6.partner.example/ocpi/versions",
    "http://partner.example/ocpi/versions",  # public, but not https
    "ftp://partner.example/ocpi/versions",
    "file:///etc/passwd",
    "gopher://partner.example/",
]


def stub_getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
    """Literal addresses as themselves, the names in DNS from the table, anything else is a test error."""
    host = host.strip("[]") if isinstance(host, str) else host
    if host == "localhost":
        address = "127.0.0.1"
    elif host in DNS:
        address = DNS[host]
    else:
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            raise AssertionError(f"unexpected name resolution of {host!r}") from None
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return [(family, socket.SOCK_STREAM, 6, "", (address, port or 443))]


@pytest.fixture
def no_network(mocker: Any) -> list[Any]:
    """Stub the resolver everywhere (also the default check_url bound at import) and forbid connecting."""
    connects: list[Any] = []
    real_connect = socket.socket.connect
    allowed = _service_addresses()

    def refuse_connect(sock: Any, address: Any) -> Any:
        if isinstance(address, tuple) and tuple(address[:2]) in allowed:
            return real_connect(sock, address)  # our own cache (Redis in CI), not a partner
        connects.append(address)
        raise AssertionError(f"a socket connect to {address!r} was attempted")

    mocker.patch("socket.getaddrinfo", stub_getaddrinfo)
    mocker.patch.dict(client_module.check_url.__kwdefaults__, {"resolver": stub_getaddrinfo})
    mocker.patch.object(socket.socket, "connect", refuse_connect)
    mocker.patch.object(socket.socket, "connect_ex", refuse_connect)
    return connects


def _service_addresses() -> set[tuple[str, int]]:
    """Where this process's own services listen (the Redis cache / broker of settings.REDIS_URL)."""
    from urllib.parse import urlsplit

    from django.conf import settings

    parts = urlsplit(settings.REDIS_URL or "")
    if not parts.hostname:
        return set()
    host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
    return {(host, parts.port or 6379)}


class StubSession(requests.Session):
    """Answers every request from `pages` (url -> (headers, data)) without a network; records the URLs."""

    def __init__(self, pages: dict[str, tuple[dict[str, str], Any]]) -> None:
        super().__init__()
        self.pages = pages
        self.urls: list[str] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.urls.append(url)
        headers, data = self.pages[url.split("?")[0]]
        response = requests.Response()
        response.status_code = 200
        response.url = url
        response.headers.update({"Content-Type": "application/json", **headers})
        import json

        response._content = json.dumps(
            {"data": data, "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"}
        ).encode()
        return response


@PRODUCTION
@pytest.mark.django_db
@pytest.mark.parametrize("url", REFUSED_URLS)
def test_client_refuses_non_public_or_non_https_urls(url: str, no_network: list[Any]) -> None:
    session = StubSession({})
    with pytest.raises(OcpiUrlRefused):
        OcpiClient(token="t", session=session).get(url)
    assert session.urls == [] and no_network == []


@PRODUCTION
@pytest.mark.django_db
def test_public_https_url_is_allowed(no_network: list[Any]) -> None:
    """The control: the same client reaches a public https URL (through the stub session)."""
    session = StubSession({"https://partner.example/ocpi/versions": ({}, [])})
    assert OcpiClient(token="t", session=session).get("https://partner.example/ocpi/versions").status_code == 1000
    assert session.urls == ["https://partner.example/ocpi/versions"]


@PRODUCTION
@pytest.mark.django_db
@pytest.mark.parametrize(
    "versions_url",
    ["http://127.0.0.1/ocpi/versions", "https://127.0.0.1/ocpi/versions", "https://metadata.partner.example/v"],
)
def test_credentials_post_with_a_loopback_versions_url_is_3001_without_connecting(
    versions_url: str, no_network: list[Any]
) -> None:
    partner, token_a = partner_invite(name="Attacker")
    body = {
        "token": "attacker-token-b",
        "url": versions_url,
        "roles": [{"role": "EMSP", "country_code": "DE", "party_id": "EMP", "business_details": {"name": "x"}}],
    }
    response = raw_client(token_encode_header(token_a)).post("/ocpi/2.2.1/credentials", body, format="json")
    payload = assert_envelope(response, 200, 3001)
    assert "Refused URL" in payload["status_message"]
    assert no_network == []
    partner.refresh_from_db()
    assert partner.state == PartnerState.INVITED and not partner.roles.exists()


@PRODUCTION
@pytest.mark.django_db
def test_link_header_to_link_local_address_stops_paging(no_network: list[Any]) -> None:
    first = "https://partner.example/ocpi/cpo/2.2.1/locations"
    for target in ("https://169.254.169.254/latest/meta-data/", "https://metadata.partner.example/x?offset=1"):
        session = StubSession({first: ({"Link": f'<{target}>; rel="next"'}, [{"id": "LOC1"}])})
        pages = OcpiClient(token="t", session=session).iter_pages(first)
        assert next(pages).data == [{"id": "LOC1"}]
        with pytest.raises(OcpiUrlRefused):
            next(pages)
        assert session.urls == [first]
    assert no_network == []


@PRODUCTION
@pytest.mark.django_db
def test_response_url_at_private_address_is_refused(no_network: list[Any]) -> None:
    session = StubSession({})
    client = OcpiClient(token="t", session=session)
    for url in ("https://10.0.0.1/ocpi/emsp/2.2.1/commands/START_SESSION/1", "http://10.0.0.1/cb"):
        with pytest.raises(OcpiUrlRefused):
            client.post(url, json={"result": "ACCEPTED"})
    assert session.urls == [] and no_network == []


@PRODUCTION
@pytest.mark.django_db
def test_partner_endpoint_urls_at_private_addresses_are_refused(no_network: list[Any]) -> None:
    """Endpoints come from the partner's version details: pushes to them go through the same check."""
    partner = make_registered_partner("Sneaky", [("EMSP", "DE", "EMP")]).partner
    for n, url in enumerate(["https://192.168.1.10/ocpi/locations", "https://intranet.partner.example/ocpi/x"]):
        PartnerEndpoint.objects.create(partner=partner, identifier=f"m{n}", role="RECEIVER", url=url)
        session = StubSession({})
        with pytest.raises(OcpiUrlRefused):
            partner_client(partner, session=session).put(url, json={"id": "x"})
        assert session.urls == []
    assert no_network == []


@PRODUCTION
@pytest.mark.django_db
def test_dns_rebinding_cannot_reach_a_private_address(no_network: list[Any], mocker: Any) -> None:
    answers = iter(["93.184.216.34", "127.0.0.1", "127.0.0.1", "127.0.0.1"])

    def rebinding(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host != "rebind.partner.example":
            return stub_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port or 443))]

    mocker.patch("socket.getaddrinfo", rebinding)
    mocker.patch.dict(client_module.check_url.__kwdefaults__, {"resolver": rebinding})
    with pytest.raises(Exception):  # noqa: B017, PT011 - refused or failed, either way: no connection below
        OcpiClient(token="t").get("https://rebind.partner.example/ocpi/versions")
    assert no_network == []
