"""Every OCPI URL shape and method refuses a caller without a valid credentials token: HTTP 401, envelope."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from ocpi_platform.ocpi.tokens import token_encode_header, token_generate
from partners.models import Partner, PartnerState
from partners.services import partner_invite
from tests.conftest import make_registered_partner
from tests.system.security.conftest import assert_envelope, module_snapshot, raw_client
from tests.system.security.routes import Route, ocpi_routes

pytestmark = pytest.mark.django_db

CREDENTIALS = "/ocpi/2.2.1/credentials"


def _call(client: Any, route: Route, method: str) -> Any:
    path = route.path()
    if method in ("post", "put", "patch"):
        return getattr(client, method)(path, {}, format="json")
    return getattr(client, method)(path)


def _refusals(header: str | None, routes: list[Route]) -> list[str]:
    """Every (route, method) that did not answer 401 with the envelope and WWW-Authenticate."""
    failures = []
    for route in routes:
        for method in route.methods or ("get",):
            response = _call(raw_client(header), route, method)
            try:
                assert_envelope(response, 401, 2000)
                assert response["WWW-Authenticate"] == "Token"
            except (AssertionError, KeyError) as exc:
                failures.append(f"{method.upper()} {route.path()}: {exc}")
    return failures


def test_every_ocpi_route_is_covered() -> None:
    """The walk finds the module endpoints the version details advertise (so the matrix below is complete)."""
    from ocpi_platform.ocpi.versions import mounted_endpoints

    paths = {route.path() for route in ocpi_routes()}
    for endpoint in mounted_endpoints():
        assert endpoint["url"].replace("http://testserver", "") in paths, endpoint
    assert len(paths) >= len(mounted_endpoints()) + 5  # object URL shapes too, not just module bases


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Token",
        "Token ",
        "Token " + base64.b64encode(b"unknown-token").decode(),
        "Token unknown-token",
        "token " + base64.b64encode(b"\x00\x01binary").decode(),
        "Basic " + base64.b64encode(b"user:password").decode(),
        "Token a b c",
        "Token " + "A" * 5000,
        "Token ====",
        "Token \u00e9\u00e9\u00e9",
    ],
    ids=lambda h: repr(h)[:30],
)
def test_missing_unknown_or_malformed_authorization_is_401(header: str | None) -> None:
    make_registered_partner("Someone", [("EMSP", "DE", "EMP")])  # a partner exists: the DB is not empty
    before = module_snapshot()
    assert _refusals(header, ocpi_routes()) == []
    assert module_snapshot() == before


def test_bearer_scheme_with_a_valid_token_is_401() -> None:
    """Only `Token <base64>` is OCPI; a valid token in another scheme must not authenticate."""
    partner = make_registered_partner("Bearer user", [("EMSP", "DE", "EMP")])
    raw = base64.b64encode(partner.token.encode()).decode()
    for header in (f"Bearer {partner.token}", f"Bearer {raw}", f"Basic {raw}", f"{partner.token}", raw):
        assert _refusals(header, ocpi_routes()) == [], header


def test_token_a_outside_versions_and_credentials_is_401() -> None:
    _partner, token_a = partner_invite(name="Invited")
    routes = [route for route in ocpi_routes() if not route.is_configuration]
    assert _refusals(token_encode_header(token_a), routes) == []


def test_token_a_after_registration_is_401_everywhere(fake_partner: Any) -> None:
    _partner, token_a = partner_invite(name="Fake eMSP")
    fake_partner.valid_tokens.add("token-b-for-the-partner")
    body = {"token": "token-b-for-the-partner", "url": fake_partner.versions_url, "roles": fake_partner.roles}
    response = raw_client(token_encode_header(token_a)).post(CREDENTIALS, body, format="json")
    assert_envelope(response, 200, 1000)
    token_c = response.json()["data"]["token"]
    assert raw_client(token_encode_header(token_c)).get("/ocpi/versions").status_code == 200
    for encode in (True, False):
        assert _refusals(token_encode_header(token_a, base64_encode=encode), ocpi_routes()) == []


def test_unregistered_partner_token_is_401_everywhere() -> None:
    """DELETE credentials revokes the token at once; a stale token row of an UNREGISTERED partner is dead too."""
    gone = make_registered_partner("Leaving", [("EMSP", "DE", "EMP")])
    assert_envelope(gone.client().delete(CREDENTIALS), 200, 1000)
    assert _refusals(gone.auth, ocpi_routes()) == []

    stale = make_registered_partner("Stale", [("CPO", "BE", "CPX")])
    Partner.objects.filter(pk=stale.partner.pk).update(state=PartnerState.UNREGISTERED)
    assert _refusals(stale.auth, ocpi_routes()) == []


def test_token_of_a_registered_partner_is_accepted() -> None:
    """The control: the same requests with a good token are not 401 (the matrix above refuses for the token)."""
    roles = [("EMSP", "DE", "EMP"), ("CPO", "DE", "CPO")]  # both: the Tokens Sender serves CPOs only
    partner = make_registered_partner("Good", roles, outbound_token=token_generate())
    for route in ocpi_routes():
        if route.methods and "get" in route.methods and not route.params:
            response = partner.client().get(route.path())
            assert response.status_code == 200, (route.path(), response.content[:200])
