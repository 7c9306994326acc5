"""Token services: partner pushes (Receiver), our own tokens (issue/update/block) and the push hook."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import Token, TokenType, WhitelistType
from tokens.selectors import token_get
from tokens.services import (
    TokenPartyNotAllowedError,
    _push,
    token_block,
    token_issue,
    token_receive,
    token_seed_demo,
    token_set_whitelist,
    token_unblock,
    token_update,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _received_data(**overrides):
    data = {
        "country_code": "DE",
        "party_id": "EMP",
        "ocpi_id": "0102030405",
        "type": "RFID",
        "contract_id": "DE-EMP-C00000001",
        "issuer": "Partner eMSP",
        "visual_number": "CARD-1",
        "group_id": "G1",
        "valid": True,
        "whitelist": "ALWAYS",
        "language": "de",
        "default_profile_type": "GREEN",
        "energy_contract": {"supplier_name": "Green Power"},
        "last_updated": T0,
    }
    data.update(overrides)
    return data


def _store(partner, data, *, uid="0102030405", type="RFID", partial=False):
    received = token_receive(
        partner=partner, country_code="DE", party_id="EMP", uid=uid, type=type, data=data, partial=partial
    )
    return received.obj, received.created


# --- token_receive ------------------------------------------------------------------------


def test_token_receive_put_creates(emsp_partner, outbox) -> None:
    token, created = _store(emsp_partner.partner, _received_data())

    assert created is True
    token.refresh_from_db()
    assert (token.country_code, token.party_id, token.ocpi_id, token.type) == ("DE", "EMP", "0102030405", "RFID")
    assert token.received_from == emsp_partner.partner
    assert token.whitelist == WhitelistType.ALWAYS
    assert token.energy_contract == {"supplier_name": "Green Power"}
    assert token.last_updated == T0
    outbox.assert_not_called()  # partner tokens are never pushed by us


def test_token_receive_put_replaces_and_resets_omitted_optionals(emsp_partner) -> None:
    _store(emsp_partner.partner, _received_data())
    data = _received_data(valid=False, last_updated=T0 + timedelta(minutes=1))
    for optional in ("visual_number", "group_id", "language", "default_profile_type", "energy_contract"):
        del data[optional]

    token, created = _store(emsp_partner.partner, data)

    assert created is False
    token.refresh_from_db()
    assert token.valid is False
    assert (token.visual_number, token.group_id, token.language, token.default_profile_type) == ("", "", "", "")
    assert token.energy_contract is None
    assert Token.objects.count() == 1


def test_token_receive_patch_changes_only_given_fields(emsp_partner) -> None:
    _store(emsp_partner.partner, _received_data())

    token, created = _store(
        emsp_partner.partner, {"valid": False, "last_updated": T0 + timedelta(hours=1)}, partial=True
    )

    token.refresh_from_db()
    assert created is False
    assert token.valid is False
    assert token.last_updated == T0 + timedelta(hours=1)
    assert token.visual_number == "CARD-1"
    assert token.whitelist == WhitelistType.ALWAYS


def test_token_receive_patch_of_unknown_token_raises(emsp_partner) -> None:
    with pytest.raises(Token.DoesNotExist):
        _store(emsp_partner.partner, {"valid": False, "last_updated": T0}, partial=True)

    assert not Token.objects.exists()


@pytest.mark.parametrize("partial", [False, True])
def test_token_receive_ignores_stale_push(emsp_partner, partial) -> None:
    _store(emsp_partner.partner, _received_data(last_updated=T0))
    stale = {"valid": False, "last_updated": T0 - timedelta(seconds=1)}
    if not partial:
        stale = _received_data(**stale)

    token, created = _store(emsp_partner.partner, stale, partial=partial)

    token.refresh_from_db()
    assert created is False
    assert token.valid is True
    assert token.last_updated == T0


def test_token_receive_replay_with_same_last_updated_is_harmless(emsp_partner) -> None:
    _store(emsp_partner.partner, _received_data())
    _store(emsp_partner.partner, _received_data())

    assert Token.objects.count() == 1


def test_token_receive_matches_key_case_insensitively(emsp_partner) -> None:
    _store(emsp_partner.partner, _received_data(ocpi_id="abcdef"), uid="abcdef")

    created = token_receive(
        partner=emsp_partner.partner, country_code="de", party_id="emp", uid="ABCDEF", type="RFID",
        data={"valid": False, "last_updated": T0 + timedelta(seconds=1)}, partial=True,
    ).created  # fmt: skip

    assert created is False
    assert Token.objects.get().valid is False


def test_token_receive_keys_on_type(emsp_partner) -> None:
    _store(emsp_partner.partner, _received_data())
    _store(emsp_partner.partner, _received_data(type="APP_USER"), type="APP_USER")

    assert sorted(Token.objects.values_list("type", flat=True)) == ["APP_USER", "RFID"]


def test_token_receive_refuses_our_own_party(emsp_partner, our_emsp) -> None:
    with pytest.raises(TokenPartyNotAllowedError):
        token_receive(
            partner=emsp_partner.partner, country_code="nl", party_id="exa", uid="X", type="RFID",
            data=_received_data(country_code="NL", party_id="EXA", ocpi_id="X"),
        )  # fmt: skip

    assert not Token.objects.exists()


# --- our own tokens --------------------------------------------------------------------------------


def test_token_issue_creates_and_pushes_in_same_transaction(our_emsp, outbox) -> None:
    before = timezone.now()

    token = token_issue(
        country_code="nl", party_id="exa", uid="04AABBCC", contract_id="NL-EXA-C00000042-7", issuer="Example eMSP"
    )

    token.refresh_from_db()
    assert (token.country_code, token.party_id, token.ocpi_id, token.type) == ("NL", "EXA", "04AABBCC", "RFID")
    assert token.valid is True
    assert token.whitelist == WhitelistType.ALLOWED
    assert token.received_from is None
    assert token.last_updated >= before
    outbox.assert_called_once_with(module="tokens", object_id=token.pk, hint={"full": True})


def test_token_issue_rolls_back_when_push_enqueue_fails(our_emsp, outbox) -> None:
    outbox.side_effect = RuntimeError("outbox down")

    with pytest.raises(RuntimeError):
        token_issue(country_code="NL", party_id="EXA", uid="04AABBCC", contract_id="NL-EXA-C00000042", issuer="X")

    assert not Token.objects.exists()


@pytest.mark.parametrize("token_type", [TokenType.APP_USER, TokenType.AD_HOC_USER])
def test_token_issue_app_tokens_default_to_whitelist_never(our_emsp, token_type) -> None:
    token = token_issue(
        country_code="NL", party_id="EXA", uid="app-1", type=token_type, contract_id="NLEXAC00000001", issuer="X"
    )

    assert token.whitelist == WhitelistType.NEVER


def test_token_issue_rejects_bad_contract_id(our_emsp) -> None:
    with pytest.raises(ValidationError, match="not an eMI3 contract id"):
        token_issue(country_code="NL", party_id="EXA", uid="04AA", contract_id="FA54320", issuer="X")

    assert not Token.objects.exists()


def test_token_issue_rejects_party_that_is_not_our_emsp(our_emsp, emsp_partner) -> None:
    with pytest.raises(ValidationError, match="not one of our active eMSP parties"):
        token_issue(country_code="DE", party_id="EMP", uid="04AA", contract_id="DE-EMP-C00000001", issuer="X")


def test_token_issue_rejects_duplicate_uid_case_insensitively(our_emsp) -> None:
    TokenFactory(ocpi_id="04aabbcc")

    with pytest.raises(ValidationError, match="already exists"):
        token_issue(country_code="NL", party_id="EXA", uid="04AABBCC", contract_id="NL-EXA-C00000001", issuer="X")


def test_token_update_changes_pushes_and_bumps_last_updated(our_emsp, outbox) -> None:
    token = TokenFactory(last_updated=T0)

    token_update(token=token, visual_number="NEW-1", language="nl")

    token.refresh_from_db()
    assert (token.visual_number, token.language) == ("NEW-1", "nl")
    assert token.last_updated > T0
    outbox.assert_called_once_with(
        module="tokens", object_id=token.pk, hint={"fields": ["visual_number", "language", "last_updated"]}
    )


def test_token_update_without_change_does_nothing(our_emsp, outbox) -> None:
    token = TokenFactory(last_updated=T0, valid=True)

    token_update(token=token, valid=True)

    token.refresh_from_db()
    assert token.last_updated == T0
    outbox.assert_not_called()


def test_token_update_refuses_key_fields(our_emsp) -> None:
    token = TokenFactory()

    with pytest.raises(ValidationError, match="Cannot change ocpi_id"):
        token_update(token=token, ocpi_id="other")


def test_token_update_refuses_partner_tokens(emsp_partner, outbox) -> None:
    token = ReceivedTokenFactory(received_from=emsp_partner.partner)

    with pytest.raises(ValidationError, match="received from a partner"):
        token_block(token=token)

    token.refresh_from_db()
    assert token.valid is True
    outbox.assert_not_called()


def test_token_update_validates_new_contract_id(our_emsp) -> None:
    token = TokenFactory()

    with pytest.raises(ValidationError, match="not an eMI3 contract id"):
        token_update(token=token, contract_id="nope")


def test_token_block_and_unblock(our_emsp, outbox) -> None:
    token = TokenFactory(valid=True, last_updated=T0)

    token_block(token=token)
    token.refresh_from_db()
    assert token.valid is False
    assert token.last_updated > T0

    token_unblock(token=token)
    token.refresh_from_db()
    assert token.valid is True
    assert [c.kwargs["hint"] for c in outbox.call_args_list] == [{"fields": ["valid", "last_updated"]}] * 2


def test_token_set_whitelist(our_emsp, outbox) -> None:
    token = TokenFactory(whitelist=WhitelistType.ALLOWED)

    token_set_whitelist(token=token, whitelist=WhitelistType.NEVER)

    token.refresh_from_db()
    assert token.whitelist == WhitelistType.NEVER
    outbox.assert_called_once_with(module="tokens", object_id=token.pk, hint={"fields": ["whitelist", "last_updated"]})


def test_token_set_whitelist_rejects_unknown_value(our_emsp) -> None:
    with pytest.raises(ValidationError):
        token_set_whitelist(token=TokenFactory(), whitelist="SOMETIMES")


# --- the push hook ---------------------------------------------------------------------------------


def test_push_skips_partner_tokens(emsp_partner, outbox) -> None:
    _push(ReceivedTokenFactory(received_from=emsp_partner.partner), {"fields": ["valid"]})

    outbox.assert_not_called()


# --- demo data -------------------------------------------------------------------------------------


def test_token_seed_demo_is_idempotent(our_emsp, outbox) -> None:
    first = token_seed_demo(country_code="NL", party_id="EXA")
    second = token_seed_demo(country_code="NL", party_id="EXA")

    assert [t.pk for t in first] == [t.pk for t in second]
    assert Token.objects.count() == len(first) >= 4
    assert {t.type for t in first} == {TokenType.RFID, TokenType.APP_USER}
    assert sum(not t.valid for t in first) == 1
    assert outbox.call_count == len(first)  # pushed once, on creation only
    assert all(t.received_from is None for t in first)


def test_token_receive_concurrent_create_becomes_update(emsp_partner, mocker) -> None:
    """Two first PUTs race: the loser's insert hits the unique key and is applied as a replace instead."""
    _store(emsp_partner.partner, _received_data())
    existing = token_get(country_code="DE", party_id="EMP", uid="0102030405", type="RFID")
    # The first lookup misses the row (the other request has not committed yet), the retry finds it.
    mocker.patch("tokens.services.token_get", side_effect=[None, existing])

    token, created = _store(emsp_partner.partner, _received_data(valid=False, last_updated=T0 + timedelta(seconds=5)))

    assert created is False
    assert Token.objects.count() == 1
    token.refresh_from_db()
    assert token.valid is False
