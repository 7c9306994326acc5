"""We start the handshake (credentials Sender) against a fake partner on real loopback HTTP."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ocpi_platform.ocpi.exceptions import InvalidParameters, NoMatchingEndpoints, UnsupportedVersion
from ocpi_platform.ocpi.tokens import token_encode_header, token_hash
from partners.models import Partner, PartnerState, PartnerToken, TokenEncoding, TokenKind
from partners.services import partner_register, partner_unregister, partner_update_credentials
from tests.conftest import make_registered_partner

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def our_live_base(live_server: Any, settings: Any) -> str:
    """The fake partner calls our versions back during registration: serve them for real."""
    settings.OCPI_BASE_URL = live_server.url
    return live_server.url


def test_register_with_fake_partner(our_live_base: str, fake_partner: Any) -> None:
    partner = partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Fake")
    assert partner.state == PartnerState.REGISTERED
    assert partner.version == "2.2.1"
    assert partner.outbound_token in fake_partner.valid_tokens  # their token C
    assert list(partner.roles.values_list("role", "country_code", "party_id")) == [("EMSP", "DE", "EMP")]
    # the partner got our credentials with our token B, and called our live server with it successfully
    post = next(r for r in fake_partner.requests if r.method == "POST")
    assert post.headers["Authorization"] == token_encode_header(fake_partner.token_a)
    assert "OCPI-from-country-code" not in post.headers  # no routing headers on configuration modules
    assert post.body["url"] == f"{our_live_base}/ocpi/versions"
    token_b = post.body["token"]
    assert PartnerToken.objects.get(partner=partner).token_hash == token_hash(token_b)
    assert PartnerToken.objects.get(partner=partner).kind == TokenKind.CURRENT


def test_register_raw_token_partner(our_live_base: str, fake_partner: Any) -> None:
    Partner.objects.create(name="Legacy", token_encoding=TokenEncoding.RAW)
    partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Legacy")
    assert fake_partner.requests[0].headers["Authorization"] == f"Token {fake_partner.token_a}"


def test_register_stops_before_post_without_mutual_version(our_live_base: str, fake_partner: Any) -> None:
    fake_partner.versions = ["2.0", "3.0"]
    with pytest.raises(UnsupportedVersion):
        partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Fake")
    assert [r.method for r in fake_partner.requests] == ["GET"]
    partner = Partner.objects.get(name="Fake")
    assert partner.state == PartnerState.ERROR
    assert (
        partner.last_error
        == "No mutual OCPI version: partner offers ['2.0', '3.0'], we support ['2.3.0', '2.2.1', '2.1.1']"
    )
    assert not PartnerToken.objects.exists()


def test_ocpi_register_asks_for_the_ocpi_2_1_1_role(our_live_base: str, fake_partner: Any) -> None:
    fake_partner.versions = ["2.1.1"]
    with pytest.raises(CommandError, match=r"Registration failed: OCPI 2\.1\.1 connections carry no roles"):
        call_command("ocpi_register", "--name", "Legacy", fake_partner.versions_url, "--", fake_partner.token_a)
    # Only the versions list was read (a 2.1.1-only platform refuses the Base64 token A, which is then sent as is);
    # nothing POSTed.
    assert [(r.method, r.answered) for r in fake_partner.requests] == [("GET", 401), ("GET", 200)]


def test_register_refuses_an_answer_with_another_partners_party(our_live_base: str, fake_partner: Any) -> None:
    """The partner answers our POST with a role on a party another registered partner holds (in another role):
    refused, nothing of it stored, and our registration there is withdrawn (DELETE with its token C)."""
    make_registered_partner("Partner A", [("EMSP", "DE", "AAE")])
    fake_partner.roles = [{"role": "CPO", "country_code": "DE", "party_id": "AAE", "business_details": {"name": "E"}}]

    with pytest.raises(InvalidParameters, match=r"DE/AAE .*'Partner A'"):
        partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Partner E")

    partner = Partner.objects.get(name="Partner E")
    assert partner.state == PartnerState.ERROR
    assert "DE/AAE" in partner.last_error and "'Partner A'" in partner.last_error
    assert partner.outbound_token == ""
    assert not partner.roles.exists() and not partner.endpoints.exists()
    assert not PartnerToken.objects.filter(partner=partner).exists()
    assert [r.method for r in fake_partner.requests][-2:] == ["POST", "DELETE"]
    assert fake_partner.valid_tokens == set()  # the fake forgot us


def test_update_refuses_roles_with_another_partners_party_but_keeps_the_rotated_tokens(
    our_live_base: str, fake_partner: Any
) -> None:
    partner = partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Fake")
    make_registered_partner("Partner A", [("CPO", "DE", "AAE")])
    fake_partner.roles = [{"role": "EMSP", "country_code": "DE", "party_id": "AAE", "business_details": {"name": "F"}}]

    with pytest.raises(InvalidParameters, match=r"DE/AAE .*'Partner A'"):
        partner_update_credentials(partner=partner)

    partner.refresh_from_db()
    assert list(partner.roles.values_list("role", "country_code", "party_id")) == [("EMSP", "DE", "EMP")]
    assert partner.state == PartnerState.REGISTERED
    assert partner.outbound_token in fake_partner.valid_tokens  # the token it gave in its PUT answer
    put = next(r for r in fake_partner.requests if r.method == "PUT")
    assert PartnerToken.objects.get(partner=partner).token_hash == token_hash(put.body["token"])
    assert partner.last_error.startswith("Roles not updated: Party DE/AAE")


def test_register_stops_without_usable_endpoints(our_live_base: str, fake_partner: Any) -> None:
    fake_partner.modules = []
    with pytest.raises(NoMatchingEndpoints):
        partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Fake")
    assert all(r.method == "GET" for r in fake_partner.requests)


def test_register_with_wrong_token_a_fails_cleanly(our_live_base: str, fake_partner: Any) -> None:
    with pytest.raises(Exception, match="Unable to read versions"):
        partner_register(versions_url_=fake_partner.versions_url, token_a="wrong", name="Fake")
    assert Partner.objects.get(name="Fake").state == PartnerState.ERROR


def test_update_then_unregister(our_live_base: str, fake_partner: Any) -> None:
    partner = partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Fake")
    old_out = partner.outbound_token
    old_hash = PartnerToken.objects.get(partner=partner).token_hash
    partner = partner_update_credentials(partner=partner)
    assert partner.outbound_token != old_out
    put = next(r for r in fake_partner.requests if r.method == "PUT")
    assert PartnerToken.objects.get(partner=partner).token_hash == token_hash(put.body["token"]) != old_hash
    partner_unregister(partner=partner)
    partner.refresh_from_db()
    assert partner.state == PartnerState.UNREGISTERED
    assert fake_partner.requests[-1].method == "DELETE"
    assert not PartnerToken.objects.filter(partner=partner).exists()


def test_ocpi_register_and_invite_commands(our_live_base: str, fake_partner: Any) -> None:
    out = StringIO()
    # "--" before the token: a partner's token may start with "-" (options come first then).
    call_command("ocpi_register", "--name", "Cmd", fake_partner.versions_url, "--", fake_partner.token_a, stdout=out)
    assert "Registered with Cmd: OCPI 2.2.1" in out.getvalue()
    with pytest.raises(CommandError, match="already registered"):
        call_command("ocpi_register", fake_partner.versions_url, "x", "--name", "Cmd", stdout=StringIO())
    out = StringIO()
    call_command("ocpi_invite", "Newcomer", "--json", stdout=out)
    import json

    invitation = json.loads(out.getvalue())
    assert invitation["versions_url"] == f"{our_live_base}/ocpi/versions"
    assert PartnerToken.objects.get(token_hash=token_hash(invitation["token"])).kind == TokenKind.A


def test_ocpi_register_takes_a_token_that_starts_with_a_dash(our_live_base: str, fake_partner: Any) -> None:
    fake_partner.token_a = "-" + fake_partner.token_a
    fake_partner.valid_tokens = {fake_partner.token_a}
    out = StringIO()

    call_command("ocpi_register", "--name", "Dash", fake_partner.versions_url, "--", fake_partner.token_a, stdout=out)

    assert "Registered with Dash: OCPI 2.2.1" in out.getvalue()
    assert fake_partner.requests[0].headers["Authorization"] == token_encode_header(fake_partner.token_a)
