"""Credentials Receiver and Versions over our API, with a fake partner platform on real loopback HTTP."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from rest_framework.test import APIClient

from ocpi_platform.ocpi.tokens import token_encode_header
from partners.models import MessageLog, Partner, PartnerRole, PartnerState, PartnerToken, TokenKind
from partners.services import partner_invite

pytestmark = pytest.mark.django_db(transaction=True)

CREDENTIALS = "/ocpi/2.2.1/credentials"


def client_with(token: str, *, base64_encode: bool = True) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=token_encode_header(token, base64_encode=base64_encode))
    return client


def credentials_body(fake: Any, token: str = "token-b-for-the-partner") -> dict[str, Any]:
    fake.valid_tokens.add(token)  # the token we will use to call the fake partner
    return {"token": token, "url": fake.versions_url, "roles": fake.roles}


@pytest.fixture
def invited() -> tuple[Partner, str]:
    return partner_invite(name="Fake eMSP")


def test_versions_answer_with_token_a_base64_and_raw(invited: tuple[Partner, str]) -> None:
    _, token_a = invited
    for encode in (True, False):
        response = client_with(token_a, base64_encode=encode).get("/ocpi/versions")
        assert response.status_code == 200
        body = response.json()
        assert body["status_code"] == 1000
        assert body["data"] == [
            {"version": "2.3.0", "url": "http://testserver/ocpi/2.3.0"},
            {"version": "2.2.1", "url": "http://testserver/ocpi/2.2.1"},
            {"version": "2.1.1", "url": "http://testserver/ocpi/2.1.1"},
        ]
        assert body["timestamp"].endswith("Z")
        assert response["X-Request-ID"]
        assert response["X-Correlation-ID"]


def test_version_details_list_mounted_endpoints(invited: tuple[Partner, str]) -> None:
    response = client_with(invited[1]).get("/ocpi/2.2.1/")
    body = response.json()
    assert body["data"]["version"] == "2.2.1"
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in body["data"]["endpoints"]}
    assert endpoints[("credentials", "SENDER")] == "http://testserver/ocpi/2.2.1/credentials"
    for (_identifier, _role), url in endpoints.items():
        assert url.startswith("http://testserver/ocpi/")
        # every advertised URL is really routed: a GET with token A gets 401 (not 404) or an answer
        assert client_with(invited[1]).get(url.replace("http://testserver", "")).status_code != 404


def test_request_ids_are_echoed(invited: tuple[Partner, str]) -> None:
    response = client_with(invited[1]).get("/ocpi/versions", HTTP_X_REQUEST_ID="req-1", HTTP_X_CORRELATION_ID="cor-1")
    assert response["X-Request-ID"] == "req-1"
    assert response["X-Correlation-ID"] == "cor-1"


@pytest.mark.parametrize(
    "header",
    [None, "", "Token", "Bearer abc", "Token " + base64.b64encode(b"unknown-token").decode(), "Token unknown-token"],
)
def test_versions_refuse_missing_or_unknown_token(header: str | None, invited: tuple[Partner, str]) -> None:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/ocpi/versions")
    assert response.status_code == 401
    assert response.json()["status_code"] == 2000
    assert response["Content-Type"] == "application/json"


def test_register_full_handshake(invited: tuple[Partner, str], fake_partner: Any) -> None:
    partner, token_a = invited
    response = client_with(token_a).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status_code"] == 1000
    token_c = body["data"]["token"]
    assert len(token_c) >= 43 and token_c != token_a
    assert body["data"]["url"] == "http://testserver/ocpi/versions"
    assert {(r["role"], r["country_code"], r["party_id"]) for r in body["data"]["roles"]} == {
        ("CPO", "NL", "EXA"),
        ("EMSP", "NL", "EXA"),
    }
    # the partner was called back with its token B on its versions and details
    called = [(r.method, r.path) for r in fake_partner.requests]
    assert ("GET", "/ocpi/versions") in called and ("GET", "/ocpi/2.2.1") in called
    assert all(
        r.headers["Authorization"] == token_encode_header("token-b-for-the-partner") for r in fake_partner.requests
    )
    partner.refresh_from_db()
    assert partner.state == PartnerState.REGISTERED
    assert partner.version == "2.2.1"
    assert partner.outbound_token == "token-b-for-the-partner"
    assert set(partner.endpoints.values_list("identifier", "role")) == {
        ("credentials", "SENDER"),
        ("locations", "RECEIVER"),
        ("tokens", "SENDER"),
        ("cdrs", "RECEIVER"),
    }
    assert list(partner.roles.values_list("role", "country_code", "party_id")) == [("EMSP", "DE", "EMP")]
    # token A stops working; token C works; tokens are stored hashed only
    assert client_with(token_a).get("/ocpi/versions").status_code == 401
    assert client_with(token_c).get("/ocpi/versions").status_code == 200
    stored = list(PartnerToken.objects.values_list("token_hash", flat=True))
    assert token_c not in stored and all(len(h) == 64 for h in stored)
    # GET credentials shows what the partner uses
    got = client_with(token_c).get(CREDENTIALS).json()
    assert got["data"]["token"] == token_c
    # the message log has the exchange, with the tokens redacted
    logged = " ".join(m.request_body + m.response_body for m in MessageLog.objects.all())
    assert MessageLog.objects.filter(direction="IN", partner=partner).exists()
    assert MessageLog.objects.filter(direction="OUT", partner=partner, url__endswith="/ocpi/versions").exists()
    assert token_c not in logged and "token-b-for-the-partner" not in logged and token_a not in logged


def test_register_twice_is_405(invited: tuple[Partner, str], fake_partner: Any) -> None:
    _, token_a = invited
    token_c = (
        client_with(token_a).post(CREDENTIALS, credentials_body(fake_partner), format="json").json()["data"]["token"]
    )
    response = client_with(token_c).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000


def test_put_and_delete_before_registration_are_405(invited: tuple[Partner, str], fake_partner: Any) -> None:
    _, token_a = invited
    assert client_with(token_a).put(CREDENTIALS, credentials_body(fake_partner), format="json").status_code == 405
    assert client_with(token_a).delete(CREDENTIALS).status_code == 405
    assert client_with(token_a).get(CREDENTIALS).status_code == 405


def test_token_a_refused_outside_versions_and_credentials(invited: tuple[Partner, str]) -> None:
    from ocpi_platform.ocpi.versions import mounted_endpoints

    for endpoint in mounted_endpoints():
        if endpoint["identifier"] == "credentials":
            continue
        path = endpoint["url"].replace("http://testserver", "")
        assert client_with(invited[1]).get(path).status_code == 401, path


def test_update_rotates_tokens_and_refetches_endpoints(invited: tuple[Partner, str], fake_partner: Any) -> None:
    partner, token_a = invited
    token_c = (
        client_with(token_a).post(CREDENTIALS, credentials_body(fake_partner), format="json").json()["data"]["token"]
    )
    fake_partner.modules = [("locations", "RECEIVER"), ("sessions", "RECEIVER")]
    response = client_with(token_c).put(CREDENTIALS, credentials_body(fake_partner, token="rotated-b"), format="json")
    assert response.status_code == 200
    new_c = response.json()["data"]["token"]
    assert new_c != token_c
    assert client_with(token_c).get("/ocpi/versions").status_code == 401
    assert client_with(new_c).get("/ocpi/versions").status_code == 200
    partner.refresh_from_db()
    assert partner.outbound_token == "rotated-b"
    assert ("sessions", "RECEIVER") in set(partner.endpoints.values_list("identifier", "role"))
    assert ("tokens", "SENDER") not in set(partner.endpoints.values_list("identifier", "role"))


def test_delete_unregisters_and_revokes(invited: tuple[Partner, str], fake_partner: Any) -> None:
    partner, token_a = invited
    token_c = (
        client_with(token_a).post(CREDENTIALS, credentials_body(fake_partner), format="json").json()["data"]["token"]
    )
    response = client_with(token_c).delete(CREDENTIALS)
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert "data" not in response.json()
    partner.refresh_from_db()
    assert partner.state == PartnerState.UNREGISTERED
    assert partner.outbound_token == ""
    assert client_with(token_c).get("/ocpi/versions").status_code == 401


def test_register_3001_when_versions_unreachable(invited: tuple[Partner, str]) -> None:
    partner, token_a = invited
    body = {
        "token": "tok",
        "url": "http://127.0.0.1:9/ocpi/versions",
        "roles": [{"role": "EMSP", "country_code": "DE", "party_id": "EMP", "business_details": {"name": "x"}}],
    }
    response = client_with(token_a).post(CREDENTIALS, body, format="json")
    assert response.json()["status_code"] == 3001
    partner.refresh_from_db()
    assert partner.state == PartnerState.INVITED
    assert client_with(token_a).get("/ocpi/versions").status_code == 200  # token A still valid for a retry


def test_register_3002_without_mutual_version(invited: tuple[Partner, str], fake_partner: Any) -> None:
    fake_partner.versions = ["2.1.1"]
    response = client_with(invited[1]).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    assert response.json()["status_code"] == 3002
    assert response.json()["status_message"] == "OCPI 2.2.1 is not offered by the partner (it offers ['2.1.1'])"
    assert not PartnerRole.objects.exists()
    assert Partner.objects.get().state == PartnerState.INVITED


def test_a_2_1_1_credentials_object_at_our_2_2_1_endpoint_is_3002(invited: tuple[Partner, str]) -> None:
    """A 2.1.1 platform POSTs its 2.1.1 Credentials object (one party at the top level, no roles) to our 2.2.1
    credentials endpoint: 3002 pointing at our 2.1.1 endpoints."""
    body = {
        "token": "token-b-2-1-1",
        "url": "http://127.0.0.1:9/ocpi/versions",
        "business_details": {"name": "Legacy eMSP"},
        "party_id": "LEG",
        "country_code": "DE",
    }
    response = client_with(invited[1], base64_encode=False).post(CREDENTIALS, body, format="json")
    assert response.status_code == 200
    assert response.json()["status_code"] == 3002
    assert response.json()["status_message"].startswith("This is an OCPI 2.1.1 Credentials object")
    assert response.json()["status_message"].endswith("register in 2.1.1 through http://testserver/ocpi/2.1.1")
    assert Partner.objects.get().state == PartnerState.INVITED
    assert not PartnerRole.objects.exists()


def test_register_3003_without_usable_endpoints(invited: tuple[Partner, str], fake_partner: Any) -> None:
    fake_partner.modules = [("acme-custom", "SENDER")]
    response = client_with(invited[1]).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    assert response.json()["status_code"] == 3003
    assert Partner.objects.get().state == PartnerState.INVITED


def test_register_refuses_a_party_of_this_platform(invited: tuple[Partner, str], fake_partner: Any) -> None:
    fake_partner.roles = [{"role": "CPO", "country_code": "nl", "party_id": "exa", "business_details": {"name": "x"}}]
    response = client_with(invited[1]).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    assert response.json()["status_code"] == 2001
    assert "hosted by this platform" in response.json()["status_message"]
    assert fake_partner.requests == []  # refused before any outbound call


def test_register_refuses_a_party_of_another_partner(invited: tuple[Partner, str], fake_partner: Any) -> None:
    from tests.conftest import make_registered_partner

    make_registered_partner("Other", [("EMSP", "DE", "EMP")])
    response = client_with(invited[1]).post(CREDENTIALS, credentials_body(fake_partner), format="json")
    assert response.json()["status_code"] == 2001
    assert "another partner" in response.json()["status_message"]
    assert Partner.objects.get(name="Fake eMSP").state == PartnerState.INVITED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "token"),
        ({"token": 12, "url": "https://x/versions", "roles": []}, "token"),
        ({"token": "has space", "url": "https://x/versions", "roles": []}, "token"),
        ({"token": "x" * 65, "url": "https://x/versions", "roles": []}, "token"),
        ({"token": "t", "url": 5, "roles": []}, "url"),
        ({"token": "t", "url": "https://x/versions", "roles": "EMSP"}, "roles"),
        ({"token": "t", "url": "https://x/versions", "roles": [{"role": "KING"}]}, "roles[0].role"),
        (
            {
                "token": "t",
                "url": "https://x/versions",
                "roles": [
                    {"role": "EMSP", "country_code": "DEU", "party_id": "EMP", "business_details": {"name": "x"}}
                ],
            },
            "roles[0].country_code",
        ),
        (
            {
                "token": "t",
                "url": "https://x/versions",
                "roles": [
                    {"role": "EMSP", "country_code": "DE", "party_id": "EMP", "business_details": {"name": "n" * 101}}
                ],
            },
            "roles[0].business_details.name",
        ),
        ([1, 2], "body"),
    ],
)
def test_register_bad_body_is_2001_naming_the_field(invited: tuple[Partner, str], body: Any, field: str) -> None:
    response = client_with(invited[1]).post(CREDENTIALS, body, format="json")
    assert response.status_code == 200
    payload = response.json()
    assert payload["status_code"] == 2001
    assert field in payload["status_message"]
    assert Partner.objects.get().state == PartnerState.INVITED
    assert PartnerToken.objects.get().kind == TokenKind.A


def test_malformed_json_is_400(invited: tuple[Partner, str]) -> None:
    response = client_with(invited[1]).generic("POST", CREDENTIALS, b'{"token": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status_code"] == 2000
    assert "JSON" in response.json()["status_message"]


def test_deeply_nested_json_is_400(invited: tuple[Partner, str]) -> None:
    body = b"[" * 5000 + b"]" * 5000
    response = client_with(invited[1]).generic("POST", CREDENTIALS, body, content_type="application/json")
    assert response.status_code == 400


def test_body_over_limit_is_413(invited: tuple[Partner, str], settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = client_with(invited[1]).generic(
        "POST", CREDENTIALS, b"{" + b" " * 2000 + b"}", content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["status_code"] == 2000


def test_unknown_ocpi_url_is_json_404(invited: tuple[Partner, str]) -> None:
    response = client_with(invited[1]).get("/ocpi/2.2.1/nothing-here")
    assert response.status_code == 404
    assert response.json()["status_code"] == 2000


def test_unsupported_method_is_enveloped(invited: tuple[Partner, str]) -> None:
    response = client_with(invited[1]).patch(CREDENTIALS, {}, format="json")
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000
