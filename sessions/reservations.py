"""CPO role: reservations (commands.md 1, 4.3 and 4.4, sessions.md 1).

A RESERVE_NOW accepted by the charge point gives an ACTIVE Reservation and a Session in status RESERVATION
(`reservation_reserve_now`, run by the Commands Receiver, sessions/commands/receiver.py); the eMSP's
CANCEL_RESERVATION ends it (`reservation_cancel_by_emsp`); the driver's charging with the same token makes it
USED (`reservation_use`, called by chargepoints/events.py). Here the two other ways it ends:

* expiry: once `expiry_date` has passed, beat marks the reservation EXPIRED and completes its RESERVATION session
  (pushed to the eMSP: "if not [used] -> status COMPLETED"); the gateway is told, so a charge point that does
  not clear its own reservations (the simulator) frees the EVSE (RESERVED -> AVAILABLE);
* cancelled by us (charge point defect, road works): the charge point cancels it, the reservation becomes
  CANCELLED, its session is completed, and the eMSP gets the CommandResult CANCELED_RESERVATION at the
  RESERVE_NOW's response_url (retried like every CommandResult).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from ocpi_platform.ocpi.fields import parse_datetime
from partners.models import Partner
from tokens.api.serializers import TokenSerializer

from .commands.results import command_result_post_later
from .commands.serializers import cdr_token_of
from .gateway import GatewayResult, command_timeout, get_gateway
from .models import (
    ChargingSession,
    CommandRequest,
    CommandResultType,
    Reservation,
    ReservationStatus,
    SessionStatus,
)
from .selectors import connector_for, evse_at, evse_currency

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return timezone.now()


def _command_evse(command: CommandRequest) -> Any:
    return evse_at(
        country_code=command.country_code,
        party_id=command.party_id,
        location_id=command.location_id,
        evse_uid=command.evse_uid,
    )


def reservation_get_active(partner: Partner, reservation_id: str) -> Reservation | None:
    """The partner's ACTIVE reservation with this reservation_id (case-insensitive), the newest."""
    return (
        Reservation.objects.filter(
            partner=partner, reservation_id__iexact=reservation_id, status=ReservationStatus.ACTIVE
        )
        .order_by("-pk")
        .first()
    )


def reservation_reserve_now(
    command: CommandRequest, data: Mapping[str, Any], gateway: Any, timeout: float
) -> GatewayResult:
    """RESERVE_NOW: the same partner, location and reservation_id replace the reservation (same charge point id)."""
    token = TokenSerializer(data=data["token"])
    token.is_valid(raise_exception=True)
    expiry = parse_datetime(data["expiry_date"])
    reservation, created = Reservation.objects.get_or_create(
        partner=command.partner,
        location_id__iexact=command.location_id,
        reservation_id__iexact=command.reservation_id,
        defaults={
            "location_id": command.location_id,
            "reservation_id": command.reservation_id,
            "country_code": command.country_code,
            "party_id": command.party_id,
            "evse_uid": command.evse_uid,
            "cdr_token": cdr_token_of(token.validated_data),
            "authorization_reference": command.authorization_reference,
            "expiry_date": expiry,
            "command": command,
        },
    )
    replacing = not created and reservation.status == ReservationStatus.ACTIVE
    outcome = gateway.reserve_now(
        reservation=reservation, evse=_command_evse(command), expiry_date=expiry, timeout=timeout
    )
    if not outcome.accepted:
        if not replacing:
            Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.FAILED, command=command)
        return outcome
    with transaction.atomic():
        reservation = Reservation.objects.select_for_update().get(pk=reservation.pk)
        reservation.evse_uid = outcome.data.get("evse_uid", command.evse_uid)
        reservation.cdr_token = cdr_token_of(token.validated_data)
        reservation.authorization_reference = command.authorization_reference
        reservation.expiry_date = expiry
        reservation.status = ReservationStatus.ACTIVE
        reservation.command = command
        reservation.session = _reservation_session(reservation, command)
        reservation.save()
        command.charging_session = reservation.session
    return outcome


def _reservation_session(reservation: Reservation, command: CommandRequest) -> ChargingSession:
    """commands.md 4.3: a successful reservation gives a Session with status RESERVATION."""
    from .services import session_start, session_update

    evse = evse_at(
        country_code=reservation.country_code,
        party_id=reservation.party_id,
        location_id=reservation.location_id,
        evse_uid=reservation.evse_uid,
    )
    connector = connector_for(evse, None) if evse is not None else None
    session = reservation.session
    if session is not None and session.status == SessionStatus.RESERVATION:
        return session_update(
            session=session,
            evse_uid=reservation.evse_uid or "#NA",
            connector_id=connector.ocpi_id if connector else "#NA",
            authorization_reference=reservation.authorization_reference or None,
        )
    return session_start(
        country_code=reservation.country_code,
        party_id=reservation.party_id,
        location_id=reservation.location_id,
        evse_uid=reservation.evse_uid or "#NA",
        connector_id=connector.ocpi_id if connector else "#NA",
        cdr_token=reservation.cdr_token,
        auth_method="COMMAND",
        authorization_reference=reservation.authorization_reference or None,
        start_date_time=_now(),
        currency=(
            evse_currency(evse, connector)
            if evse is not None and connector is not None
            else getattr(settings, "OCPI_DEFAULT_CURRENCY", "EUR")
        ),
        token_owner_partner=command.partner,
        status=SessionStatus.RESERVATION,
    )


def reservation_cancel_by_emsp(command: CommandRequest, gateway: Any, timeout: float) -> GatewayResult:
    """CANCEL_RESERVATION (commands.md 4.4): the charge point drops the eMSP's reservation, its session ends."""
    reservation = reservation_get_active(command.partner, command.reservation_id)
    if reservation is None:
        # The charge point never got a reservation for this (partner, reservation_id).
        return GatewayResult(CommandResultType.UNKNOWN_RESERVATION, f"Unknown reservation {command.reservation_id}")
    outcome = gateway.cancel_reservation(reservation=reservation, timeout=timeout)
    if outcome.accepted:
        with transaction.atomic():
            Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.CANCELLED)
            completed = reservation_session_complete(reservation, _now())
            if completed is not None:
                command.charging_session = completed
    return outcome


def reservation_use(
    *,
    evse: Any,
    connector_id: str,
    token_uid: str,
    started_at: datetime,
    auth_method: str,
    authorization_reference: str | None,
) -> ChargingSession | None:
    """A session starts on `evse` with `token_uid`: the token's ACTIVE reservation at the EVSE's location (on this
    EVSE or on no EVSE yet) becomes USED and its RESERVATION session ACTIVE (sessions.md 1: "if the reservation
    leads to charging with the same token"); returns that session, None when there is no such reservation."""
    from .services import session_update

    location = evse.location
    reservation = (
        Reservation.objects.select_related("session")
        .filter(
            status=ReservationStatus.ACTIVE,
            country_code=evse.country_code,
            party_id=evse.party_id,
            location_id__iexact=location.ocpi_id,
            session__status=SessionStatus.RESERVATION,
            session__token_uid__iexact=token_uid,
        )
        .filter(evse_uid__in=["", evse.uid])
        .order_by("-pk")
        .first()
    )
    if reservation is None:
        return None
    reserved = cast(ChargingSession, reservation.session)  # the filter above matched its session
    session = session_update(
        session=reserved,
        status=SessionStatus.ACTIVE,
        start_date_time=started_at,
        auth_method=auth_method,
        authorization_reference=authorization_reference or reserved.authorization_reference,
        evse_uid=evse.uid,
        connector_id=connector_id,
    )
    Reservation.objects.filter(pk=reservation.pk).update(status=ReservationStatus.USED)
    return session


def reservation_session_complete(reservation: Reservation, at: datetime) -> ChargingSession | None:
    """A reservation that ends unused completes its RESERVATION session (sessions.md 1); returns that session."""
    from .services import session_stop

    session = reservation.session
    if session is not None and session.status == SessionStatus.RESERVATION:
        return session_stop(session=session, end_date_time=max(at, session.start_date_time))
    return None


def reservation_expire_due(*, now: datetime | None = None) -> int:
    """Beat: ACTIVE reservations whose expiry_date has passed become EXPIRED; returns how many."""
    now = now or timezone.now()
    due = Reservation.objects.filter(status=ReservationStatus.ACTIVE, expiry_date__lte=now).order_by("pk")
    expired = []
    for pk in due.values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            reservation = (
                Reservation.objects.select_for_update(of=("self",))
                .select_related("session")
                .filter(pk=pk, status=ReservationStatus.ACTIVE)
                .first()
            )
            if reservation is None:  # used or cancelled meanwhile
                continue
            reservation.status = ReservationStatus.EXPIRED
            reservation.save(update_fields=["status", "updated_at"])
            reservation_session_complete(reservation, reservation.expiry_date)
        expired.append(reservation)
    gateway = get_gateway()
    for reservation in expired:
        notify = getattr(gateway, "reservation_expired", None)  # optional: charge points clear their own
        if notify is not None:
            notify(reservation=reservation)
    if expired:
        logger.info("%d reservations expired", len(expired))
    return len(expired)


def reservation_cancel_by_cpo(*, reservation: Reservation, reason: str = "") -> Reservation:
    """We cancel an ACTIVE reservation (charge point defect, road works): the charge point drops it, the eMSP
    gets CommandResult CANCELED_RESERVATION at the RESERVE_NOW's response_url. Raises ValidationError when the
    reservation is not active or the charge point refuses."""
    if reservation.status != ReservationStatus.ACTIVE:
        raise ValidationError(f"Reservation {reservation} is {reservation.status}, not ACTIVE")
    outcome = get_gateway().cancel_reservation(reservation=reservation, timeout=command_timeout())
    if not outcome.accepted:
        raise ValidationError(f"The charge point did not cancel reservation {reservation}: {outcome.result}")
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("session", "command")
            .get(pk=reservation.pk)
        )
        if reservation.status != ReservationStatus.ACTIVE:
            raise ValidationError(f"Reservation {reservation} is {reservation.status}, not ACTIVE")
        reservation.status = ReservationStatus.CANCELLED
        reservation.save(update_fields=["status", "updated_at"])
        reservation_session_complete(reservation, timezone.now())
        if reservation.command is not None and reservation.command.response_url:
            message = reason or "The charging station operator cancelled the reservation"
            command_result_post_later(
                command=reservation.command,
                result=CommandResultType.CANCELED_RESERVATION,
                message=[{"language": "en", "text": message[:512]}],
            )
    logger.info("Reservation %s cancelled by the CPO", reservation)
    return reservation
