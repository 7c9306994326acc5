"""Real-time token authorization (tokens.md 3.2 and 6), both roles of this platform.

eMSP role: `token_authorize` answers a CPO's POST {uid}/authorize for one of our own tokens. It must be fast
(the driver waits at the charger): one indexed read and one insert, no Celery hop, no HTTP.

Our policy (the spec leaves it to the eMSP): a token past its `expires_at` is EXPIRED; else a token that is not
valid is BLOCKED; a valid token is ALLOWED everywhere, including locations we never received (private chargers,
tokens.md 3.2). We hold no per-location restrictions or credit limits, so NOT_ALLOWED and NO_CREDIT are never
answered yet; `_allowed_at` is where such rules would go. Every answer is recorded as a TokenAuthorization
whose reference the CPO copies into the Session and CDR.

CPO role: `token_authorize_at_charge_point` decides whether a token may charge at one of our EVSEs, from the
whitelist rules of the token we cached (pushed to our Tokens Receiver) or by asking the owning eMSP in real
time with a short timeout (settings.OCPI_REALTIME_AUTH_TIMEOUT_SECONDS). Never call it inside a transaction.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from ocpi_platform.ocpi import envelope as env
from ocpi_platform.ocpi.client import OcpiClientError, join_url
from ocpi_platform.ocpi.headers import PartyRef
from ocpi_platform.ocpi.sql import insert_one
from ocpi_platform.ocpi.wire import V211, WireContext, from_wire
from partners.client import partner_client
from partners.models import Partner, PartnerState
from partners.selectors import partner_endpoint_url

from .constants import (
    REALTIME_AUTH_TIMEOUT_SECONDS,
    SOURCE_FALLBACK,
    SOURCE_LOCAL,
    SOURCE_REALTIME,
    STATUS_TIMEOUT,
    STATUS_UNKNOWN,
)
from .models import AllowedType, Token, TokenAuthorization, TokenType, WhitelistType
from .selectors import (
    our_cpo_party,
    token_get_for_authorization,
    token_get_received,
    token_owner_partner,
    token_party_is_our_emsp,
)
from .serializers import AuthorizationInfoSerializer

logger = logging.getLogger(__name__)

BLOCKED_INFO = {"language": "en", "text": "This token is blocked. Please contact your charging provider."}
EXPIRED_INFO = {"language": "en", "text": "This token has expired. Please contact your charging provider."}
_INFO: dict[str, dict[str, str]] = {AllowedType.BLOCKED: BLOCKED_INFO, AllowedType.EXPIRED: EXPIRED_INFO}


# --- eMSP role: our Tokens Sender answers POST {uid}/authorize ---------------------------------------


@dataclass(frozen=True)
class AuthorizationInfo:
    """AuthorizationInfo (tokens.md 4.2), serialized by AuthorizationInfoSerializer."""

    allowed: str
    token: Token
    authorization_reference: str
    location: dict[str, Any] | None = None
    info: dict[str, str] | None = None


def _allowed_at(token: Token, location: dict[str, Any] | None) -> str:
    """Our authorization policy (see the module docstring): expiry first, then validity."""
    if token.expires_at is not None and token.expires_at <= timezone.now():
        return AllowedType.EXPIRED
    if not token.valid:
        return AllowedType.BLOCKED
    return AllowedType.ALLOWED


def token_authorize(
    *,
    uid: str,
    type: str = TokenType.RFID,
    location: dict[str, Any] | None = None,
    partner: Partner | None = None,
    country_code: str | None = None,
    party_id: str | None = None,
) -> AuthorizationInfo:
    """Real-time authorization of one of our eMSP tokens (Sender POST, tokens.md 3.2).

    `location` is validated LocationReferences ({"location_id", "evse_uids"}) or None; `partner` is the CPO
    that asks (None: our own CPO, in-process); country_code/party_id restrict the lookup to one of our parties
    (the request's OCPI-to-* headers). Raises Token.DoesNotExist for a token that is not ours (404/2004).
    """
    token = token_get_for_authorization(uid=uid, type=type, country_code=country_code, party_id=party_id)
    if token is None:
        raise Token.DoesNotExist(f"Unknown token {uid} ({type})")
    allowed = _allowed_at(token, location)
    authorization = insert_one(  # as TokenAuthorization.objects.create(), without its per-call SQL building
        TokenAuthorization(
            token=token,
            reference=uuid.uuid4().hex,  # 32 characters, within CiString(36)
            location_id=location["location_id"] if location else "",
            evse_uids=list(location.get("evse_uids") or []) if location else [],
            partner=partner,
            allowed=allowed,
        )
    )
    return AuthorizationInfo(
        allowed=allowed,
        token=token,
        authorization_reference=authorization.reference,
        # Echoed only where the driver may charge, with the allowed EVSEs (all of them, tokens.md 4.2).
        location=location if location and allowed == AllowedType.ALLOWED else None,
        info=_INFO.get(allowed),
    )


# --- CPO role: may this token charge at our charge point? -------------------------------------------


@dataclass(frozen=True)
class AuthorizationDecision:
    """What our CPO decided for a token at a charge point.

    status: the AllowedType value that decided, or STATUS_UNKNOWN (the eMSP does not know the token, or nobody
    to ask) / STATUS_TIMEOUT (the eMSP gave no usable answer and the whitelist rule denies).
    source: SOURCE_LOCAL / SOURCE_REALTIME / SOURCE_FALLBACK. authorization_reference: the eMSP's, to be
    copied into the Session and CDR (None for local decisions). owner: the partner we asked (or would ask).
    """

    allowed: bool
    status: str
    source: str
    authorization_reference: str | None = None
    token: Token | None = None
    owner: Partner | None = None
    info: dict[str, str] | None = None
    detail: str = ""


class _UnknownToken(Exception):
    """The eMSP answered OCPI 2004 (HTTP 404): it does not know the token."""


class _NoAnswer(Exception):
    """The eMSP could not be asked or gave no usable answer (timeout, connection, 5xx, bad body...)."""


def _local(token: Token, owner: Partner | None, source: str, detail: str) -> AuthorizationDecision:
    """Decision from our cached token: valid tokens may charge (ALWAYS with valid=false: rejected, spec-issues G2)."""
    return AuthorizationDecision(
        allowed=token.valid,
        status=AllowedType.ALLOWED if token.valid else AllowedType.BLOCKED,
        source=source,
        token=token,
        owner=owner,
        detail=detail,
    )


def _ask_emsp(
    *,
    owner: Partner,
    country_code: str,
    party_id: str,
    uid: str,
    type: str,
    location_id: str,
    evse_uid: str | None,
    timeout: float,
) -> dict[str, Any]:
    """POST {tokens SENDER url}/{uid}/authorize?type= with LocationReferences; returns validated AuthorizationInfo."""
    if owner.state != PartnerState.REGISTERED:
        raise _NoAnswer(f"partner {owner.pk} is not registered")
    base = partner_endpoint_url(partner=owner, identifier="tokens", role="SENDER")
    if not base:
        raise _NoAnswer(f"partner {owner.pk} has no tokens SENDER endpoint")
    cpo = our_cpo_party()
    client = partner_client(
        owner,
        from_party=PartyRef.of(cpo.country_code, cpo.party_id) if cpo else None,
        to_party=PartyRef.of(country_code, party_id),
    )
    client.timeout = timeout  # short: the driver is waiting (the partner's own timeout is for pushes)
    body: dict[str, Any] | None = None
    if location_id:  # spec-issues G1: always send LocationReferences when we have them
        body = {"location_id": location_id, **({"evse_uids": [evse_uid]} if evse_uid else {})}
    url = join_url(base, quote(uid, safe=""), "authorize")
    try:
        result = client.post(url, json=body, params={"type": type}, kind="LocationReferences")
    except OcpiClientError as exc:
        if exc.ocpi_status == env.UNKNOWN_TOKEN:
            raise _UnknownToken(str(exc)) from exc
        raise _NoAnswer(str(exc)) from exc
    answer = from_wire(
        "AuthorizationInfo", result.data, client.version, WireContext(country_code=country_code, party_id=party_id)
    )
    if client.version == V211 and isinstance(answer, dict) and "token" not in answer:
        # 2.1.1's AuthorizationInfo does not echo the Token; only `allowed` and `location` are read (_from_answer).
        return {key: answer[key] for key in ("allowed", "location", "info") if key in answer}
    serializer = AuthorizationInfoSerializer(data=answer)
    if not serializer.is_valid():
        raise _NoAnswer(f"{url} answered an invalid AuthorizationInfo: {serializer.errors}")
    return dict(serializer.validated_data)


def _from_answer(
    answer: dict[str, Any], *, evse_uid: str | None, token: Token | None, owner: Partner | None
) -> AuthorizationDecision:
    status = answer["allowed"]
    allowed = status == AllowedType.ALLOWED
    location = answer.get("location") or {}
    allowed_evses = [uid.upper() for uid in location.get("evse_uids") or []]
    if allowed and evse_uid and allowed_evses and evse_uid.upper() not in allowed_evses:
        # The echo lists only the EVSEs the driver may use (tokens.md 4.2).
        allowed, status = False, AllowedType.NOT_ALLOWED
    return AuthorizationDecision(
        allowed=allowed,
        status=status,
        source=SOURCE_REALTIME,
        authorization_reference=answer.get("authorization_reference"),
        token=token,
        owner=owner,
        info=answer.get("info"),
    )


def _authorize_in_process(
    *, country_code: str, party_id: str, uid: str, type: str, location_id: str, evse_uid: str | None
) -> AuthorizationDecision:
    """The token belongs to our own eMSP: ask it directly, without HTTP."""
    location = {"location_id": location_id, "evse_uids": [evse_uid] if evse_uid else []} if location_id else None
    try:
        info = token_authorize(uid=uid, type=type, location=location, country_code=country_code, party_id=party_id)
    except Token.DoesNotExist:
        return AuthorizationDecision(
            allowed=False, status=STATUS_UNKNOWN, source=SOURCE_REALTIME, detail="unknown to our own eMSP"
        )
    return AuthorizationDecision(
        allowed=info.allowed == AllowedType.ALLOWED,
        status=info.allowed,
        source=SOURCE_REALTIME,
        authorization_reference=info.authorization_reference,
        token=info.token,
        info=info.info,
        detail="our own eMSP (in-process)",
    )


def token_authorize_at_charge_point(
    *,
    country_code: str,
    party_id: str,
    uid: str,
    type: str = TokenType.RFID,
    location_id: str,
    evse_uid: str | None,
    partner: Partner | None = None,
    timeout: float | None = None,
) -> AuthorizationDecision:
    """May the token (country_code, party_id, uid, type) charge at our EVSE? (tokens.md 5 WhitelistType, 6).

    Cached token: ALWAYS -> local; ALLOWED -> real time, local when the eMSP gives no answer; ALLOWED_OFFLINE ->
    real time, local only when the eMSP is unreachable; NEVER -> real time, denied when unreachable. The
    cached `valid` flag never skips a real-time request. Unknown token -> real time to the partner hosting the
    eMSP party (or our own eMSP, in-process), else denied. An eMSP answer of 2004 always denies.
    `partner` overrides the owner lookup (PartnerRole, then the partner that pushed the token). `timeout` in
    seconds defaults to settings.OCPI_REALTIME_AUTH_TIMEOUT_SECONDS; it bounds each socket wait of the call.
    """
    if timeout is None:
        timeout = getattr(settings, "OCPI_REALTIME_AUTH_TIMEOUT_SECONDS", REALTIME_AUTH_TIMEOUT_SECONDS)
    token = token_get_received(country_code=country_code, party_id=party_id, uid=uid, type=type)
    owner = partner or token_owner_partner(country_code=country_code, party_id=party_id)
    if owner is None and token is not None:
        owner = token.received_from  # e.g. a Hub relaying the eMSP's tokens

    decision = _decide(
        token=token,
        owner=owner,
        country_code=country_code,
        party_id=party_id,
        uid=uid,
        type=type,
        location_id=location_id,
        evse_uid=evse_uid,
        timeout=timeout,
    )
    logger.info(
        "Token %s/%s/%s (%s) at %s/%s: %s %s via %s%s",
        country_code,
        party_id,
        uid,
        type,
        location_id,
        evse_uid,
        "allowed" if decision.allowed else "denied",
        decision.status,
        decision.source,
        f" ({decision.detail})" if decision.detail else "",
    )
    return decision


def _decide(
    *,
    token: Token | None,
    owner: Partner | None,
    country_code: str,
    party_id: str,
    uid: str,
    type: str,
    location_id: str,
    evse_uid: str | None,
    timeout: float,
) -> AuthorizationDecision:
    if token is not None and token.whitelist == WhitelistType.ALWAYS:
        return _local(token, owner, SOURCE_LOCAL, "whitelist ALWAYS")
    if owner is None:
        if token is None and token_party_is_our_emsp(country_code=country_code, party_id=party_id):
            return _authorize_in_process(
                country_code=country_code,
                party_id=party_id,
                uid=uid,
                type=type,
                location_id=location_id,
                evse_uid=evse_uid,
            )
        if token is None:
            return AuthorizationDecision(
                allowed=False,
                status=STATUS_UNKNOWN,
                source=SOURCE_LOCAL,
                detail=f"unknown token and no registered partner hosts eMSP {country_code}/{party_id}",
            )
    try:
        if owner is None:
            raise _NoAnswer(f"no registered partner hosts eMSP {country_code}/{party_id}")
        answer = _ask_emsp(
            owner=owner,
            country_code=country_code,
            party_id=party_id,
            uid=uid,
            type=type,
            location_id=location_id,
            evse_uid=evse_uid,
            timeout=timeout,
        )
    except _UnknownToken as exc:
        return AuthorizationDecision(
            allowed=False, status=STATUS_UNKNOWN, source=SOURCE_REALTIME, token=token, owner=owner, detail=str(exc)
        )
    except _NoAnswer as exc:
        if token is not None and token.whitelist in (WhitelistType.ALLOWED, WhitelistType.ALLOWED_OFFLINE):
            return _local(token, owner, SOURCE_FALLBACK, str(exc))
        return AuthorizationDecision(
            allowed=False, status=STATUS_TIMEOUT, source=SOURCE_FALLBACK, token=token, owner=owner, detail=str(exc)
        )
    return _from_answer(answer, evse_uid=evse_uid, token=token, owner=owner)
