"""CPO role: the end of a reservation that was not used (commands.md 1 and 4.3, sessions.md 1).

A RESERVE_NOW accepted by the charge point gives an ACTIVE Reservation and a Session in status RESERVATION
(sessions/commands.py); the driver's charging with the same token makes it USED (chargepoints/events.py).
Here the two other ways it ends:

* expiry: once `expiry_date` has passed, beat marks the reservation EXPIRED and completes its RESERVATION session
  (pushed to the eMSP: "if not [used] -> status COMPLETED"); the gateway is told, so a charge point that does
  not clear its own reservations (the simulator) frees the EVSE (RESERVED -> AVAILABLE);
* cancelled by us (charge point defect, road works): the charge point cancels it, the reservation becomes
  CANCELLED, its session is completed, and the eMSP gets the CommandResult CANCELED_RESERVATION at the
  RESERVE_NOW's response_url (retried like every CommandResult).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .gateway import command_timeout, get_gateway
from .models import ChargingSession, CommandResultType, Reservation, ReservationStatus, SessionStatus

logger = logging.getLogger(__name__)


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
    from .commands import command_result_post_later

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
