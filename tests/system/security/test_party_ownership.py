"""One party (country_code, party_id) belongs to one registered partner, whatever the role (issue 12).

The attack: partner A registered EMSP DE/AAE; partner E registered CPO DE/AAE and, since the receivers accept any
role of a party the caller registered, read and blocked A's token, listed A's sessions and started sessions with
A's token. Registration now refuses a party held by another registered partner (or hosted by us) in any role.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.conf import settings
from django.db import connection

from locations.models import Location
from ocpi_platform.ocpi import exceptions as ocpi_errors
from ocpi_platform.ocpi.tokens import token_encode_header
from partners.models import Partner, PartnerRole, PartnerState, Party, TokenKind
from partners.services import credentials_register_inbound, partner_invite
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import load_example
from tests.system.security.conftest import assert_envelope, raw_client

pytestmark = pytest.mark.django_db(transaction=True)

CREDENTIALS = "/ocpi/2.2.1/credentials"
TOKEN_URL = "/ocpi/cpo/2.2.1/tokens/DE/AAE/{uid}"


def role(kind: str, cc: str, pid: str, name: str = "x") -> dict[str, Any]:
    return {"role": kind, "country_code": cc, "party_id": pid, "business_details": {"name": name}}


def post_credentials(fake: Any, token_a: str, roles: list[dict[str, Any]], token_b: str) -> Any:
    """The invited partner registers with us (POST, token A); `fake` serves its versions on loopback."""
    fake.roles = roles
    fake.valid_tokens.add(token_b)
    body = {"token": token_b, "url": fake.versions_url, "roles": roles}
    return raw_client(token_encode_header(token_a)).post(CREDENTIALS, body, format="json")


def token_body(uid: str) -> dict[str, Any]:
    body = load_example("token_example_2_full_rfid.json")
    body.update(country_code="DE", party_id="AAE", uid=uid)
    return body


def location_body(cc: str, pid: str, location_id: str) -> dict[str, Any]:
    body = load_example("location_example.json")
    body.update(country_code=cc, party_id=pid, id=location_id)
    return body


@pytest.fixture
def partner_a(db: Any) -> RegisteredPartner:
    """Partner A: eMSP DE/AAE, with a token T1 it pushed to our CPO."""
    a = make_registered_partner("Partner A", [("EMSP", "DE", "AAE")])
    assert_envelope(a.client().put(TOKEN_URL.format(uid="T1"), token_body("T1"), format="json"), 201, 1000)
    return a


def test_register_with_another_partners_party_in_another_role_is_refused_end_to_end(
    partner_a: RegisteredPartner, fake_partner: Any
) -> None:
    evil, token_a = partner_invite(name="Partner E")

    response = post_credentials(fake_partner, token_a, [role("CPO", "de", "aae")], "e-token-b")

    body = assert_envelope(response, 200, 2001)
    assert "DE/AAE" in body["status_message"]
    assert "'Partner A'" in body["status_message"]  # names the registered partner holding the party
    assert fake_partner.requests == []  # refused before any outbound call
    evil.refresh_from_db()
    assert evil.state == PartnerState.INVITED
    assert evil.outbound_token == ""
    assert not evil.roles.exists() and not evil.endpoints.exists()
    assert list(PartnerRole.objects.values_list("partner__name", "role", "country_code", "party_id")) == [
        ("Partner A", "EMSP", "DE", "AAE")
    ]

    # E registers with a party of its own; A's token stays out of its reach in every direction.
    registered = post_credentials(fake_partner, token_a, [role("CPO", "DE", "EEE")], "e-token-b")
    token_c = assert_envelope(registered, 200, 1000)["data"]["token"]
    evil_client = raw_client(token_encode_header(token_c))
    assert_envelope(evil_client.get(TOKEN_URL.format(uid="T1")), 404)
    blocked = dict(token_body("T1"), valid=False, last_updated="2099-01-01T00:00:00Z")
    assert evil_client.put(TOKEN_URL.format(uid="T1"), blocked, format="json").status_code == 404
    assert_envelope(partner_a.client().get(TOKEN_URL.format(uid="T1")), 200, 1000)
    assert partner_a.client().get(TOKEN_URL.format(uid="T1")).json()["data"]["valid"] is True


def test_update_credentials_with_another_partners_party_in_another_role_is_refused(
    partner_a: RegisteredPartner, fake_partner: Any
) -> None:
    b = make_registered_partner("Partner B", [("EMSP", "DE", "BBB")])
    fake_partner.valid_tokens.add("b-rotated")
    body = {"token": "b-rotated", "url": fake_partner.versions_url, "roles": [role("CPO", "DE", "AAE")]}

    response = b.client().put(CREDENTIALS, body, format="json")

    message = assert_envelope(response, 200, 2001)["status_message"]
    assert "DE/AAE" in message and "'Partner A'" in message
    assert fake_partner.requests == []
    assert list(b.partner.roles.values_list("role", "country_code", "party_id")) == [("EMSP", "DE", "BBB")]
    assert_envelope(b.client().get(CREDENTIALS), 200, 1000)  # B's token was not rotated


def test_a_partner_may_hold_its_party_in_several_roles(db: Any, fake_partner: Any) -> None:
    partner, token_a = partner_invite(name="CPO and eMSP")

    response = post_credentials(fake_partner, token_a, [role("CPO", "DE", "TWO"), role("EMSP", "DE", "TWO")], "b")

    assert_envelope(response, 200, 1000)
    assert sorted(partner.roles.values_list("role", "country_code", "party_id")) == [
        ("CPO", "DE", "TWO"),
        ("EMSP", "DE", "TWO"),
    ]


def test_a_party_we_host_in_another_role_is_refused(db: Any, fake_partner: Any) -> None:
    Party.objects.create(role="CPO", country_code="FR", party_id="OUR", name="Our French CPO")
    _partner, token_a = partner_invite(name="Newcomer")

    response = post_credentials(fake_partner, token_a, [role("EMSP", "FR", "OUR")], "b")

    message = assert_envelope(response, 200, 2001)["status_message"]
    assert "FR/OUR" in message and "hosted by this platform" in message
    assert not PartnerRole.objects.exists()


@pytest.mark.parametrize("new_role", ["CPO", "EMSP"])
def test_a_party_of_an_unregistered_partner_registers_again_and_reaches_its_objects(
    db: Any, fake_partner: Any, new_role: str
) -> None:
    old = make_registered_partner("Old CPO", [("CPO", "DE", "AAC")])
    assert_envelope(
        old.client().put("/ocpi/emsp/2.2.1/locations/DE/AAC/L1", location_body("DE", "AAC", "L1"), format="json"),
        201,
        1000,
    )
    assert_envelope(old.client().delete(CREDENTIALS), 200, 1000)  # the partner leaves: UNREGISTERED
    newcomer, token_a = partner_invite(name="New CPO")  # it comes back under a new invitation / Partner row

    response = post_credentials(fake_partner, token_a, [role(new_role, "DE", "AAC")], "new-b")

    token_c = assert_envelope(response, 200, 1000)["data"]["token"]
    assert list(PartnerRole.objects.values_list("partner__name", "role", "country_code", "party_id")) == [
        ("New CPO", new_role, "DE", "AAC")
    ]  # the stale role of the unregistered partner is gone (it would break the one-row-per-role constraint)
    client = raw_client(token_encode_header(token_c))
    changed = dict(location_body("DE", "AAC", "L1"), name="Renamed")
    if new_role == "CPO":
        assert_envelope(client.put("/ocpi/emsp/2.2.1/locations/DE/AAC/L1", changed, format="json"), 200, 1000)
        assert_envelope(client.get("/ocpi/emsp/2.2.1/locations/DE/AAC/L1"), 200, 1000)
    else:  # the objects are the new holder's, but only a CPO (or NAP) writes Locations
        assert_envelope(client.put("/ocpi/emsp/2.2.1/locations/DE/AAC/L1", changed, format="json"), 404, 2000)
        changed["name"] = Location.objects.get(ocpi_id="L1").name
    location = Location.objects.get(ocpi_id="L1")
    assert (location.name, location.received_from_id) == (changed["name"], newcomer.pk)


def test_roles_of_a_partner_that_is_not_registered_block_nothing_and_keep_their_history(
    db: Any, fake_partner: Any
) -> None:
    old = make_registered_partner("Old eMSP", [("EMSP", "DE", "OLD"), ("EMSP", "DE", "KPT")])
    Partner.objects.filter(pk=old.partner.pk).update(state=PartnerState.UNREGISTERED)
    _partner, token_a = partner_invite(name="Newcomer")

    response = post_credentials(fake_partner, token_a, [role("EMSP", "DE", "OLD")], "b")

    assert_envelope(response, 200, 1000)
    # Only the party taken again is released; the rest of the old partner's roles stay as history.
    assert list(old.partner.roles.values_list("party_id", flat=True)) == ["KPT"]


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="needs PostgreSQL: concurrent transactions (SQLite's in-memory test database shares one lock)",
)
def test_two_concurrent_registrations_cannot_both_take_one_party(db: Any, fake_partner: Any, mocker: Any) -> None:
    """Both pass the first check (before the outbound calls); the lock makes the second wait for the first's
    commit and check again."""
    import partners.services as services

    first, _ = partner_invite(name="First")
    second, _ = partner_invite(name="Second")
    stored, release = threading.Event(), threading.Event()
    real_store_roles = services._store_roles

    def store_roles_then_wait(partner: Partner, roles: list[dict[str, Any]]) -> None:
        real_store_roles(partner, roles)
        if partner.pk == first.pk:
            stored.set()
            release.wait(10)  # still inside the transaction, holding the lock

    mocker.patch("partners.services._store_roles", side_effect=store_roles_then_wait)
    outcomes: dict[str, Any] = {}

    def register(partner: Partner, kind: str, token_b: str) -> None:
        fake_partner.valid_tokens.add(token_b)
        data = {"token": token_b, "url": fake_partner.versions_url, "roles": [role(kind, "DE", "RAC")]}
        try:
            outcomes[partner.name] = credentials_register_inbound(
                partner=partner, presented_kind=TokenKind.A, data=data
            )
        except Exception as exc:  # noqa: BLE001 - recorded for the asserts
            outcomes[partner.name] = exc
        finally:
            connection.close()

    one = threading.Thread(target=register, args=(first, "CPO", "first-b"))
    two = threading.Thread(target=register, args=(second, "EMSP", "second-b"))
    one.start()
    assert stored.wait(10)
    two.start()
    two.join(1.0)
    waited = two.is_alive()
    release.set()
    one.join(10)
    two.join(10)

    assert waited, "the second registration did not wait for the first one's lock"
    assert isinstance(outcomes["First"], dict), outcomes
    assert isinstance(outcomes["Second"], ocpi_errors.InvalidParameters), outcomes
    assert "'First'" in outcomes["Second"].message
    assert list(PartnerRole.objects.values_list("partner__name", flat=True)) == ["First"]
    assert Partner.objects.get(name="Second").state == PartnerState.INVITED
