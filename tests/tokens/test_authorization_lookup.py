"""The real-time authorization lookup is SQL written by hand (tokens.selectors): it must find exactly the token
the ORM definition finds, field for field, in every case (case, type, party, received, inactive parties)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.forms.models import model_to_dict

from partners.models import Party, Role
from tests.conftest import make_registered_partner
from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import Token, TokenType
from tokens.selectors import token_get_for_authorization


def orm_reference(uid: str, type: str, country_code: str | None, party_id: str | None) -> Token | None:
    queryset = Token.objects.owned_by_us().filter(ocpi_id__iexact=uid, type=type)
    if country_code and party_id:
        queryset = queryset.for_party(country_code, party_id)
    return queryset.order_by("pk").first()


@pytest.fixture
def tokens(our_emsp: Any) -> list[Token]:
    Party.objects.create(role=Role.EMSP, country_code="NL", party_id="EXB", name="Second eMSP of ours")
    Party.objects.create(role=Role.EMSP, country_code="BE", party_id="OFF", name="Inactive", active=False)
    partner = make_registered_partner("Other eMSP", [("EMSP", "DE", "EMP")]).partner
    return [
        TokenFactory(ocpi_id="AbC123", energy_contract={"supplier_name": "Greenpower", "contract_id": "X1"}),
        TokenFactory(ocpi_id="abc123", party_id="exb", type=TokenType.APP_USER, valid=False),  # lower-case party
        TokenFactory(ocpi_id="ABC123", party_id="EXB", last_updated=datetime(2025, 6, 1, 12, 30, tzinfo=UTC)),
        TokenFactory(ocpi_id="OFF1", country_code="BE", party_id="OFF"),  # inactive party: not ours any more
        ReceivedTokenFactory(ocpi_id="abc123", received_from=partner),  # pushed to our CPO: never ours
        ReceivedTokenFactory(ocpi_id="REC1", country_code="NL", party_id="EXA", received_from=partner),
        TokenFactory(ocpi_id="100%_like", group_id="G1", visual_number="V-1", language="nl"),
    ]


UIDS = ["abc123", "ABC123", "AbC123", "OFF1", "REC1", "100%_like", "100%_LIKE", "100x_like", "missing", "abc12"]
TYPES = [TokenType.RFID, TokenType.APP_USER, TokenType.OTHER]
PARTIES = [(None, None), ("NL", "EXA"), ("nl", "exb"), ("BE", "OFF"), ("DE", "EMP"), ("NL", None)]


def test_lookup_matches_the_orm_definition_in_every_case(tokens: list[Token]) -> None:
    checked = found = 0
    for uid in UIDS:
        for type in TYPES:
            for country_code, party_id in PARTIES:
                expected = orm_reference(uid, type, country_code, party_id)
                actual = token_get_for_authorization(uid=uid, type=type, country_code=country_code, party_id=party_id)
                assert actual == expected, (uid, type, country_code, party_id)
                if expected is not None:
                    # Every field as the ORM reads it: JSON decoded, datetimes aware, booleans, empty FK.
                    assert model_to_dict(actual) == model_to_dict(expected)
                    assert actual.last_updated == expected.last_updated and actual.last_updated.tzinfo is not None
                    assert actual.received_from_id is None
                    found += 1
                checked += 1
    assert checked == len(UIDS) * len(TYPES) * len(PARTIES)
    assert found >= 20  # the cases really find tokens, not only None == None


def test_lookup_picks_the_oldest_token_when_two_of_our_parties_share_a_uid(tokens: list[Token]) -> None:
    first, _, third = tokens[0], tokens[1], tokens[2]

    assert token_get_for_authorization(uid="abc123") == first
    assert token_get_for_authorization(uid="abc123", country_code="NL", party_id="EXB") == third
    contract = {"supplier_name": "Greenpower", "contract_id": "X1"}
    assert token_get_for_authorization(uid="abc123").energy_contract == contract
