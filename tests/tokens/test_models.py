"""Token model: case-insensitive identity and the QuerySet scopes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from partners.models import Party, Role
from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import Token, TokenType, validate_contract_id


def test_token_unique_key_is_case_insensitive(our_emsp) -> None:
    TokenFactory(ocpi_id="abc123", type=TokenType.RFID)

    with pytest.raises(IntegrityError):
        TokenFactory(country_code="nl", party_id="exa", ocpi_id="ABC123", type=TokenType.RFID)


def test_token_same_uid_with_other_type_is_another_token(our_emsp) -> None:
    TokenFactory(ocpi_id="abc123", type=TokenType.RFID)
    TokenFactory(ocpi_id="abc123", type=TokenType.APP_USER)

    assert Token.objects.filter(ocpi_id="abc123").count() == 2


def test_token_owned_by_us_only_our_active_emsp_parties(our_emsp, emsp_partner) -> None:
    ours = TokenFactory()
    ReceivedTokenFactory(received_from=emsp_partner.partner)
    TokenFactory(country_code="FR", party_id="ZZZ")  # no party of ours
    Party.objects.create(role=Role.CPO, country_code="BE", party_id="CPZ", name="Only a CPO")
    TokenFactory(country_code="BE", party_id="CPZ")
    Party.objects.create(role=Role.EMSP, country_code="NL", party_id="OLD", name="Inactive", active=False)
    TokenFactory(country_code="NL", party_id="OLD")

    assert list(Token.objects.owned_by_us()) == [ours]


def test_token_for_party_is_case_insensitive(our_emsp) -> None:
    token = TokenFactory()
    TokenFactory(country_code="DE", party_id="EXA")

    assert list(Token.objects.for_party("nl", "exa")) == [token]


def test_token_changed_between_from_inclusive_to_exclusive(our_emsp) -> None:
    t1 = TokenFactory(last_updated=datetime(2024, 1, 1, tzinfo=UTC))
    t2 = TokenFactory(last_updated=datetime(2024, 1, 2, tzinfo=UTC))
    TokenFactory(last_updated=datetime(2024, 1, 3, tzinfo=UTC))

    window = Token.objects.changed_between(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC))

    assert set(window) == {t1, t2}
    assert Token.objects.changed_between(None, None).count() == 3


@pytest.mark.parametrize(
    "value", ["NL-EXA-C12345678-X", "NLEXAC12345678X", "NL-EXA-C12345678", "DE8ACC12E46L89", "nl-exa-c1234567a"]
)
def test_validate_contract_id_accepts_emaid(value: str) -> None:
    validate_contract_id(value)


@pytest.mark.parametrize(
    "value", ["FA54320", "NL-EXA-12345678-X", "NL-EXA-C1234567", "NL-EXAC12345678-X", "NL-EXA-C12345678-XY", ""]
)
def test_validate_contract_id_rejects_other_formats_with_clear_message(value: str) -> None:
    with pytest.raises(ValidationError, match=r"not an eMI3 contract id.*NL-EXA-C12345678-X"):
        validate_contract_id(value)


def test_token_clean_checks_energy_contract_shape() -> None:
    token = Token(energy_contract={"contract_id": "1"})

    with pytest.raises(ValidationError) as exc:
        token.clean()

    assert "energy_contract" in exc.value.message_dict
