"""Real-time authorization services and selectors: our eMSP's decision and the CPO-side lookups."""

from __future__ import annotations

from typing import Any

import pytest

from partners.models import PartnerState
from tests.conftest import make_registered_partner
from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import Token, TokenAuthorization, TokenType
from tokens.selectors import our_cpo_party, token_get_for_authorization, token_owner_partner
from tokens.services import token_authorize


def test_token_authorize_records_the_answer(our_emsp: Any, cpo_partner: Any) -> None:
    token = TokenFactory(ocpi_id="04SVC1")

    info = token_authorize(
        uid="04svc1", location={"location_id": "L1", "evse_uids": ["E1"]}, partner=cpo_partner.partner
    )

    assert (info.allowed, info.token, info.location, info.info) == (
        "ALLOWED",
        token,
        {"location_id": "L1", "evse_uids": ["E1"]},
        None,
    )
    stored = TokenAuthorization.objects.get()
    assert (stored.reference, stored.token, stored.partner, stored.allowed) == (
        info.authorization_reference,
        token,
        cpo_partner.partner,
        "ALLOWED",
    )


def test_token_authorize_blocked_has_no_location_echo(our_emsp: Any) -> None:
    TokenFactory(ocpi_id="04SVC2", valid=False)

    info = token_authorize(uid="04SVC2", location={"location_id": "L1", "evse_uids": []})

    assert (info.allowed, info.location) == ("BLOCKED", None)
    assert info.info["language"] == "en"


def test_token_authorize_unknown_raises_and_records_nothing(our_emsp: Any, emsp_partner: Any) -> None:
    ReceivedTokenFactory(ocpi_id="04SVC3", received_from=emsp_partner.partner)

    with pytest.raises(Token.DoesNotExist):
        token_authorize(uid="04SVC3")
    assert not TokenAuthorization.objects.exists()


def test_token_get_for_authorization_needs_an_active_emsp_party_of_ours(our_emsp: Any) -> None:
    token = TokenFactory(ocpi_id="04SVC4", type=TokenType.APP_USER)

    assert token_get_for_authorization(uid="04SVC4", type=TokenType.APP_USER) == token
    assert token_get_for_authorization(uid="04SVC4") is None  # RFID by default
    assert token_get_for_authorization(uid="04SVC4", type="APP_USER", country_code="nl", party_id="exa") == token
    assert token_get_for_authorization(uid="04SVC4", type="APP_USER", country_code="DE", party_id="EXA") is None
    our_emsp.active = False
    our_emsp.save()
    assert token_get_for_authorization(uid="04SVC4", type=TokenType.APP_USER) is None


def test_token_owner_partner_only_registered_emsp_roles(db: Any) -> None:
    emsp = make_registered_partner("EMP", [("EMSP", "DE", "EMP"), ("CPO", "DE", "CPO")]).partner

    assert token_owner_partner(country_code="de", party_id="emp") == emsp
    assert token_owner_partner(country_code="DE", party_id="CPO") is None  # not an eMSP role
    emsp.state = PartnerState.UNREGISTERED
    emsp.save()
    assert token_owner_partner(country_code="DE", party_id="EMP") is None


def test_token_owner_partner_is_the_hub_that_relays_an_unreported_emsp(db: Any) -> None:
    """A Hub relays for parties it never described in ClientInfo: Sessions/CDRs of their tokens go to the Hub."""
    hub = make_registered_partner("Hub", [("HUB", "EU", "HUB")]).partner
    ReceivedTokenFactory(country_code="DE", party_id="XYZ", ocpi_id="04RELAY", received_from=hub)

    assert token_owner_partner(country_code="de", party_id="xyz") == hub
    hub.state = PartnerState.UNREGISTERED
    hub.save()
    assert token_owner_partner(country_code="DE", party_id="XYZ") is None


def test_token_owner_partner_is_never_a_relaying_hub_for_a_party_registered_in_another_role(db: Any) -> None:
    hub = make_registered_partner("Hub", [("HUB", "EU", "HUB")]).partner
    make_registered_partner("CPO", [("CPO", "DE", "XYZ")])
    ReceivedTokenFactory(country_code="DE", party_id="XYZ", ocpi_id="04RELAY", received_from=hub)

    assert token_owner_partner(country_code="DE", party_id="XYZ") is None


def test_our_cpo_party(db: Any) -> None:
    party = our_cpo_party()

    assert (party.role, party.country_code, party.party_id) == ("CPO", "NL", "EXA")
