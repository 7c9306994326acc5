"""Every write to tokens: partner pushes to our CPO Receiver, and our own eMSP tokens (issue, change, block).

Changes to our own tokens enqueue a push to the connected CPOs in the same transaction (`_push`).
Real-time authorization (tokens.md 3.2 and 6, both roles) lives in tokens/authorization.py and is re-exported
here: `token_authorize` (our eMSP answers) and `token_authorize_at_charge_point` (our CPO decides).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partners.models import Partner, Party, Role
from partners.receiving import (
    Received,
    ReceiveNotAllowedError,
    ReceiveObjectNotAllowedError,
    receive_claim,
    receive_is_stale,
    receive_party_check,
    receive_retrying,
)
from partners.selectors import our_party_get

from .authorization import AuthorizationDecision as AuthorizationDecision  # re-exported
from .authorization import AuthorizationInfo as AuthorizationInfo
from .authorization import token_authorize as token_authorize
from .authorization import token_authorize_at_charge_point as token_authorize_at_charge_point
from .models import Token, TokenType, WhitelistType, validate_contract_id
from .selectors import token_get

logger = logging.getLogger(__name__)

# OCPI field name -> model attribute, for the fields a PUT/PATCH may carry besides the key.
_DATA_FIELDS = {
    "contract_id": "contract_id",
    "visual_number": "visual_number",
    "issuer": "issuer",
    "group_id": "group_id",
    "valid": "valid",
    "whitelist": "whitelist",
    "language": "language",
    "default_profile_type": "default_profile_type",
    "energy_contract": "energy_contract",
    "last_updated": "last_updated",
}
# Optional fields and the value that means "not set" (PUT: omitted optional fields revert to it).
_OPTIONAL_EMPTY: dict[str, Any] = {
    "visual_number": "",
    "group_id": "",
    "language": "",
    "default_profile_type": "",
    "energy_contract": None,
}
# Fields of our own tokens staff/apps may change (keys never change).
EDITABLE_FIELDS = (
    "contract_id",
    "visual_number",
    "issuer",
    "group_id",
    "valid",
    "whitelist",
    "language",
    "default_profile_type",
    "energy_contract",
)


class TokenPartyNotAllowedError(ReceiveNotAllowedError):
    """A partner pushed a token under a party that is one of ours (or over another partner's token)."""


class TokenObjectNotAllowedError(TokenPartyNotAllowedError, ReceiveObjectNotAllowedError):
    """A PUT over a token another partner pushed (a PATCH of one is answered as for an unknown token)."""


def _push(token: Token, hint: dict[str, Any]) -> None:
    """Enqueue the delivery of one of our tokens to every connected CPO (same transaction as the change).

    hint: {"fields": [changed model fields..., "last_updated"]} for a change (a PATCH can carry them) or
    {"full": True} for a new token (PUT).
    """
    if not token.is_ours:
        return
    from partners.outbox import outbox_enqueue  # looked up per call: tests replace it

    outbox_enqueue(module="tokens", object_id=token.pk, hint=hint)


def _clean_value(field: str, value: Any) -> Any:
    if value is None and field in _OPTIONAL_EMPTY:
        return _OPTIONAL_EMPTY[field]
    return value


# --- CPO role: tokens pushed by partner eMSPs (Receiver interface) ------------------------------


def token_receive(
    *,
    partner: Partner,
    country_code: str,
    party_id: str,
    uid: str,
    type: str,
    data: Mapping[str, Any],
    partial: bool = False,
) -> Received:
    """Receiver PUT (create or replace) or PATCH of a partner eMSP's token -> Received(token, created, stale).

    `data` is TokenSerializer.validated_data (model attribute names). Pushes older than the stored
    `last_updated` are ignored, so replays and out-of-order deliveries are harmless. A PATCH of an unknown
    token, or of one another partner pushed, raises Token.DoesNotExist; a push under one of our own parties
    raises TokenPartyNotAllowedError, a PUT over another partner's token TokenObjectNotAllowedError (it is never
    taken over). The caller has checked that the partner holds (country_code, party_id).
    """
    country_code, party_id = country_code.upper(), party_id.upper()
    receive_party_check(
        partner=partner,
        country_code=country_code,
        party_id=party_id,
        roles=None,
        error=TokenPartyNotAllowedError,
        ours="one of our own parties",
    )
    return receive_retrying(  # a concurrent PUT created it first: apply ours on top of it (last_updated decides)
        lambda: _token_receive(partner, country_code, party_id, uid, type, data, partial),
        log=logger,
        what=f"token {country_code}/{party_id}/{uid} ({type})",
    )


def _token_receive(
    partner: Partner,
    country_code: str,
    party_id: str,
    uid: str,
    type: str,
    data: Mapping[str, Any],
    partial: bool,
) -> Received:
    token = receive_claim(
        token_get(country_code=country_code, party_id=party_id, uid=uid, type=type, for_update=True),
        partner=partner,
        partial=partial,
        refusal=lambda: TokenObjectNotAllowedError(
            f"Token {country_code}/{party_id}/{uid} ({type}) cannot be written by this partner"
        ),
    )
    if token is None and partial:
        raise Token.DoesNotExist(f"Unknown token {country_code}/{party_id}/{uid} ({type})")
    if receive_is_stale(token, last_updated=data["last_updated"], partner=partner, log=logger, name="token"):
        return Received(token, created=False, stale=True)

    fields = {attr: _clean_value(attr, data[attr]) for attr in _DATA_FIELDS.values() if attr in data}
    if not partial:
        for attr, empty in _OPTIONAL_EMPTY.items():
            fields.setdefault(attr, empty)

    if token is None:
        token = Token(
            country_code=country_code,
            party_id=party_id,
            ocpi_id=data.get("ocpi_id", uid),
            type=type,
            received_from=partner,
            **fields,
        )
        token.save(force_insert=True)
        return Received(token, created=True)

    for attr, value in fields.items():
        setattr(token, attr, value)
    token.received_from = partner
    token.save()
    return Received(token, created=False)


# --- eMSP role: our own drivers' tokens ---------------------------------------------------------


def _our_emsp_party(country_code: str, party_id: str) -> Party:
    party = our_party_get(country_code=country_code, party_id=party_id, role=Role.EMSP)
    if party is None:
        raise ValidationError(
            {"party_id": f"{country_code}/{party_id} is not one of our active eMSP parties"}, code="not_our_party"
        )
    return party


def _check_ours(token: Token) -> None:
    if not token.is_ours:
        raise ValidationError(f"Token {token} was received from a partner and cannot be changed here")


@transaction.atomic
def token_issue(
    *,
    country_code: str,
    party_id: str,
    uid: str,
    type: str = TokenType.RFID,
    contract_id: str,
    issuer: str,
    visual_number: str = "",
    group_id: str = "",
    valid: bool = True,
    whitelist: str | None = None,
    language: str = "",
    default_profile_type: str = "",
    energy_contract: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
) -> Token:
    """Create a token of one of our eMSP parties and push it to the connected CPOs.

    APP_USER and AD_HOC_USER tokens default to whitelist NEVER (tokens.md 5: no benefit in whitelisting).
    Raises ValidationError (bad contract id, not our party, duplicate uid+type, field errors).
    """
    party = _our_emsp_party(country_code, party_id)
    validate_contract_id(contract_id)
    if whitelist is None:
        whitelist = WhitelistType.ALLOWED if type == TokenType.RFID else WhitelistType.NEVER
    if token_get(country_code=party.country_code, party_id=party.party_id, uid=uid, type=type) is not None:
        raise ValidationError({"ocpi_id": f"A {type} token with uid {uid} already exists"}, code="unique")
    token = Token(
        country_code=party.country_code,
        party_id=party.party_id,
        ocpi_id=uid,
        type=type,
        contract_id=contract_id,
        issuer=issuer,
        visual_number=visual_number or "",
        group_id=group_id or "",
        valid=valid,
        whitelist=whitelist,
        language=language or "",
        default_profile_type=default_profile_type or "",
        energy_contract=energy_contract,
        expires_at=expires_at,
        last_updated=timezone.now(),
    )
    token.full_clean()
    token.save(force_insert=True)
    _push(token, {"full": True})  # a new token: the CPOs need all of it (PUT)
    return token


@transaction.atomic
def token_update(*, token: Token, **changes: Any) -> Token:
    """Change fields of one of our tokens (EDITABLE_FIELDS); pushed only when something really changed."""
    _check_ours(token)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))} of a token")
    changed = []
    for field, value in changes.items():
        value = _clean_value(field, value)
        if getattr(token, field) != value:
            setattr(token, field, value)
            changed.append(field)
    if not changed:
        return token
    if "contract_id" in changed:
        validate_contract_id(token.contract_id)
    token.last_updated = timezone.now()
    token.full_clean()
    token.save(update_fields=[*changed, "last_updated"])
    _push(token, {"fields": [*changed, "last_updated"]})
    return token


def token_block(*, token: Token) -> Token:
    """Block one of our tokens: tokens are never deleted, CPOs get valid=false (tokens.md 1)."""
    return token_update(token=token, valid=False)


@transaction.atomic
def token_unblock(*, token: Token) -> Token:
    """Make one of our tokens valid again; an expiry already past is cleared (else beat would block it again)."""
    _check_ours(token)
    if token.expires_at is not None and token.expires_at <= timezone.now():
        token.expires_at = None
        token.save(update_fields=["expires_at"])
    return token_update(token=token, valid=True)


@transaction.atomic
def token_set_expiry(*, token: Token, expires_at: datetime | None) -> Token:
    """When one of our tokens stops working (None: never).

    Until then nothing changes for the CPOs (expiry is not an OCPI field). From then on real-time authorization
    answers EXPIRED, and the token is made invalid (valid=false pushed to every CPO): at once when the moment
    is already past, else by beat (`token_expire_due`) within a minute of it.
    """
    _check_ours(token)
    if token.expires_at != expires_at:
        token.expires_at = expires_at
        token.save(update_fields=["expires_at"])
    if expires_at is not None and expires_at <= timezone.now() and token.valid:
        return token_update(token=token, valid=False)
    return token


def token_expire_now(*, token: Token) -> Token:
    """Expire one of our tokens now: authorization answers EXPIRED (not BLOCKED), CPOs get valid=false."""
    return token_set_expiry(token=token, expires_at=timezone.now())


def token_expire_due(*, now: datetime | None = None) -> int:
    """Beat: make our tokens whose expiry has come invalid (each pushed to the CPOs); returns how many."""
    now = now or timezone.now()
    due = Token.objects.owned_by_us().filter(valid=True, expires_at__lte=now).order_by("pk")
    count = 0
    for token in due.iterator(chunk_size=500):
        with transaction.atomic():
            current = Token.objects.select_for_update().filter(pk=token.pk, valid=True).first()
            if current is not None:
                token_update(token=current, valid=False)
                count += 1
    if count:
        logger.info("%d expired tokens made invalid", count)
    return count


def token_set_whitelist(*, token: Token, whitelist: str) -> Token:
    if whitelist not in WhitelistType.values:
        raise ValidationError({"whitelist": f"{whitelist!r} is not a WhitelistType"})
    return token_update(token=token, whitelist=whitelist)


DEMO_TOKENS = (
    # (uid, type, contract number, valid, visual_number)
    ("04A1B2C3D4E5F6", TokenType.RFID, "00000001", True, "EXA-0001"),
    ("04A1B2C3D4E5F7", TokenType.RFID, "00000002", True, "EXA-0002"),
    ("04A1B2C3D4E5F8", TokenType.RFID, "00000003", False, "EXA-0003"),
    ("demo-app-user-0001", TokenType.APP_USER, "00000004", True, ""),
)


@transaction.atomic
def token_seed_demo(*, country_code: str, party_id: str) -> list[Token]:
    """A few demo tokens of our eMSP party (two RFID, one blocked RFID, one APP_USER); safe to rerun."""
    party = _our_emsp_party(country_code, party_id)
    tokens = []
    for uid, token_type, number, valid, visual in DEMO_TOKENS:
        token = token_get(country_code=party.country_code, party_id=party.party_id, uid=uid, type=token_type)
        if token is None:
            token = token_issue(
                country_code=party.country_code,
                party_id=party.party_id,
                uid=uid,
                type=token_type,
                contract_id=f"{party.country_code}-{party.party_id}-C{number}",
                issuer=party.name[:64],
                visual_number=visual,
                valid=valid,
                language="en",
            )
        tokens.append(token)
    return tokens
