"""Charging Profiles, CPO Receiver (chargingprofiles.md 3): store a partner eMSP's GET/PUT/DELETE on a session
of one of its tokens with our synchronous ChargingProfileResponse; if ACCEPTED a Celery task forwards it to
the charge point gateway and POSTs the result to the request's response_url (retried on transient errors).

Our policy: the token owner (the partner whose token the session runs on) or an SCSP partner (Smart Charging
Service Provider, any of our sessions) may use it; the session must be
ACTIVE and its EVSE CHARGING_PROFILE_CAPABLE; more than OCPI_CHARGING_PROFILE_MAX_PER_MINUTE (default 10)
requests per minute for one session answer TOO_OFTEN.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ocpi_platform.dispatch import enqueue_on_commit
from ocpi_platform.ocpi.client import OcpiClientError, OcpiTransientError
from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Partner, Role
from partners.outbox import partner_party

from .commands.results import response_timeout
from .gateway import GatewayResult, command_timeout, get_gateway
from .models import (
    ChargingProfileAction,
    ChargingProfileRequest,
    ChargingProfileResponseType,
    ChargingProfileResultType,
    SessionStatus,
)

logger = logging.getLogger(__name__)

DEFAULT_MAX_PER_MINUTE = 10


def _now() -> datetime:
    return timezone.now()


def _judge(partner: Partner, session: Any) -> tuple[str, str]:
    from locations.selectors import evse_get, location_get

    if session is None:
        return ChargingProfileResponseType.UNKNOWN_SESSION, "Unknown session"
    if session.status != SessionStatus.ACTIVE:
        return ChargingProfileResponseType.REJECTED, f"Session {session.ocpi_id} is {session.status}, not ACTIVE"
    location = location_get(
        country_code=session.country_code, party_id=session.party_id, location_id=session.location_id
    )
    evse = evse_get(location=location, evse_uid=session.evse_uid) if location else None
    if evse is None or "CHARGING_PROFILE_CAPABLE" not in (evse.capabilities or []):
        return ChargingProfileResponseType.NOT_SUPPORTED, f"EVSE {session.evse_uid} is not CHARGING_PROFILE_CAPABLE"
    limit = int(getattr(settings, "OCPI_CHARGING_PROFILE_MAX_PER_MINUTE", DEFAULT_MAX_PER_MINUTE))
    recent = ChargingProfileRequest.objects.filter(
        partner=partner, charging_session=session, created_at__gte=_now() - timedelta(minutes=1)
    ).count()
    if recent >= limit:
        return ChargingProfileResponseType.TOO_OFTEN, f"More than {limit} requests per minute for this session"
    return ChargingProfileResponseType.ACCEPTED, ""


def charging_profile_receive(
    *,
    partner: Partner,
    action: str,
    session_id: str,
    response_url: str,
    to_party: PartyRef | None = None,
    duration: int | None = None,
    charging_profile: dict[str, Any] | None = None,
    correlation_id: str = "",
) -> ChargingProfileRequest:
    """Receiver GET (action GET, `duration`), PUT (SET, `charging_profile` in OCPI JSON) or DELETE (CLEAR).

    A session that is unknown or runs on another partner's token answers UNKNOWN_SESSION.
    """
    from sessions.selectors import session_get_for_partner, session_get_ours

    session = session_get_for_partner(partner=partner, session_id=session_id, party=to_party)
    if session is None and partner.roles.filter(role=Role.SCSP).exists():
        session = session_get_ours(session_id=session_id, party=to_party)
    result, reason = _judge(partner, session)
    with transaction.atomic():
        stored = ChargingProfileRequest.objects.create(
            uid=uuid.uuid4().hex,
            partner=partner,
            action=action,
            session_id=session_id,
            charging_session=session,
            duration=duration,
            charging_profile=charging_profile,
            response_url=response_url,
            response_result=result,
            response_timeout=response_timeout() if result == ChargingProfileResponseType.ACCEPTED else 0,
            correlation_id=correlation_id or "",
            error=reason,
        )
        if result == ChargingProfileResponseType.ACCEPTED:
            request_id = stored.pk
            enqueue_on_commit("sessions.tasks.charging_profile_execute", request_id=request_id)
    logger.info(
        "Charging profile %s %s of session %s from partner %s: %s", action, stored.uid, session_id, partner.pk, result
    )
    return stored


def charging_profile_execute(*, request_id: int) -> str:
    """Forward one accepted request to the gateway, store the async result and schedule its POST (idempotent)."""
    stored = ChargingProfileRequest.objects.select_related("charging_session").filter(pk=request_id).first()
    if stored is None or stored.charging_session is None:
        return "skipped: unknown request"
    if stored.result:
        return f"skipped: result {stored.result} already known"
    gateway, timeout, session = get_gateway(), command_timeout(), stored.charging_session
    try:
        if stored.action == ChargingProfileAction.GET:
            duration = cast(int, stored.duration)  # a GET request always has one (its serializer requires it)
            outcome = gateway.get_active_charging_profile(session=session, duration=duration, timeout=timeout)
        elif stored.action == ChargingProfileAction.SET:
            profile = cast(dict[str, Any], stored.charging_profile)  # a SET request always has one
            outcome = gateway.set_charging_profile(session=session, charging_profile=profile, timeout=timeout)
        else:
            outcome = gateway.clear_charging_profile(session=session, timeout=timeout)
    except Exception as exc:
        logger.exception("Charging profile request %s failed", stored.uid)
        outcome = GatewayResult(ChargingProfileResultType.REJECTED, f"Internal error: {exc.__class__.__name__}")
    result = (
        outcome.result if outcome.result in ChargingProfileResultType.values else ChargingProfileResultType.REJECTED
    )
    body: dict[str, Any] = {"result": result}
    if stored.action == ChargingProfileAction.GET and result == ChargingProfileResultType.ACCEPTED:
        body["profile"] = outcome.data.get("profile")
    with transaction.atomic():
        updated = ChargingProfileRequest.objects.filter(pk=stored.pk, result="").update(
            result=result,
            result_body=body,
            result_at=_now(),
            error="" if outcome.accepted else (outcome.message or outcome.result),
            updated_at=_now(),
        )
        if updated:
            enqueue_on_commit("sessions.tasks.charging_profile_post_result", request_id=request_id)
    return f"{stored.action}: {result}"


def charging_profile_post_result(*, request_id: int) -> str:
    """POST the ActiveChargingProfileResult / ChargingProfileResult / ClearProfileResult to response_url, once."""
    from partners.client import partner_client

    stored = ChargingProfileRequest.objects.select_related("partner", "charging_session").filter(pk=request_id).first()
    if stored is None or not stored.result:
        return "skipped: no result"
    if stored.posted_at is not None:
        return "skipped: already posted"
    session = stored.charging_session
    to_party = PartyRef.of(session.token_country_code, session.token_party_id) if session else None
    if session is not None and session.token_owner_partner_id != stored.partner_id:
        to_party = partner_party(stored.partner, (Role.SCSP,)) or to_party  # the SCSP that asked
    client = partner_client(
        stored.partner,
        from_party=PartyRef.of(session.country_code, session.party_id) if session else None,
        to_party=to_party,
        correlation_id=stored.correlation_id or None,
    )
    ChargingProfileRequest.objects.filter(pk=stored.pk).update(post_attempts=stored.post_attempts + 1)
    try:
        client.post(stored.response_url, json=stored.result_body)
    except OcpiTransientError as exc:
        ChargingProfileRequest.objects.filter(pk=stored.pk).update(error=f"POST result: {exc}")
        raise
    except OcpiClientError as exc:
        ChargingProfileRequest.objects.filter(pk=stored.pk).update(error=f"POST result refused: {exc}")
        logger.warning("Charging profile result of %s not delivered: %s", stored.uid, exc)
        return f"failed: {exc}"
    ChargingProfileRequest.objects.filter(pk=stored.pk).update(posted_at=_now())
    return f"posted {stored.result}"
