"""SimulatorGateway: a software charge point behind every one of our EVSEs (the default OCPI_GATEWAY).

It answers like a real charge point would, after OCPI_SIMULATOR_DELAY_SECONDS (default 0.5):
START_SESSION on an AVAILABLE EVSE is accepted and the session starts at once (EVSE CHARGING); on an
OUTOFORDER/INOPERATIVE/REMOVED EVSE it gives EVSE_INOPERATIVE; on a CHARGING/BLOCKED EVSE, or one reserved for
somebody else, EVSE_OCCUPIED. A delay longer than the command's timeout gives TIMEOUT.
OCPI_SIMULATOR_OUTCOME forces an answer: ACCEPTED (default: behave as above) or any CommandResultType value
(REJECTED, FAILED, TIMEOUT, ...); charging-profile calls map values that are not a ChargingProfileResultType
to REJECTED. Its charging profile "memory" is the accepted ChargingProfileRequests of the session.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import timezone

from locations.selectors import evse_get, location_get
from ocpi_platform.ocpi.envelope import format_datetime
from ocpi_platform.ocpi.fields import parse_datetime
from partners.models import Partner
from sessions.gateway import GatewayResult
from sessions.models import (
    ChargingProfileAction,
    ChargingProfileRequest,
    ChargingProfileResultType,
    ChargingSession,
    Reservation,
    ReservationStatus,
    SessionStatus,
)

from . import events

if TYPE_CHECKING:
    from locations.models import EVSE

logger = logging.getLogger(__name__)

INOPERATIVE = frozenset({"OUTOFORDER", "INOPERATIVE", "REMOVED"})
OCCUPIED = frozenset({"CHARGING", "BLOCKED"})
ACCEPTED = "ACCEPTED"
TIMEOUT = "TIMEOUT"


class SimulatorGateway:
    """The default ChargePointGateway (see sessions.gateway, the port). Stateless: its state is our database."""

    def __init__(self, *, delay: float | None = None, outcome: str | None = None) -> None:
        self.delay = float(delay if delay is not None else getattr(settings, "OCPI_SIMULATOR_DELAY_SECONDS", 0.5))
        self.outcome = (outcome or getattr(settings, "OCPI_SIMULATOR_OUTCOME", ACCEPTED) or ACCEPTED).upper()

    # --- the charge point's answer time ---------------------------------------------------------------

    def _wait(self, timeout: float) -> GatewayResult | None:
        """Sleep like a charge point; a TIMEOUT result when it would not answer within `timeout`."""
        if self.outcome == TIMEOUT or self.delay > timeout:
            time.sleep(max(0.0, timeout))
            return GatewayResult(TIMEOUT, f"The charge point did not answer within {timeout:g} s")
        if self.delay > 0:
            time.sleep(self.delay)
        if self.outcome != ACCEPTED:
            return GatewayResult(self.outcome, f"Simulated outcome {self.outcome}")
        return None

    def _wait_profile(self, timeout: float) -> GatewayResult | None:
        forced = self._wait(timeout)
        if forced is None or forced.result in ChargingProfileResultType.values:
            return forced
        return GatewayResult(ChargingProfileResultType.REJECTED, forced.message)

    @staticmethod
    def _fresh(evse: EVSE) -> EVSE:
        return type(evse).objects.select_related("location").get(pk=evse.pk)

    # --- commands ---------------------------------------------------------------------------------------

    def start_session(
        self,
        *,
        evse: EVSE,
        connector_id: str | None,
        cdr_token: dict[str, Any],
        authorization_reference: str | None,
        token_owner_partner_id: int | None,
        timeout: float,
    ) -> GatewayResult:
        forced = self._wait(timeout)
        if forced is not None:
            return forced
        evse = self._fresh(evse)
        refusal = self._refusal(evse, token_uid=cdr_token.get("uid"))
        if refusal is not None:
            return refusal
        owner = Partner.objects.filter(pk=token_owner_partner_id).first() if token_owner_partner_id else None
        session = events.session_started(
            evse=evse,
            connector_id=connector_id,
            cdr_token=cdr_token,
            auth_method="COMMAND",
            authorization_reference=authorization_reference,
            token_owner_partner=owner,
        )
        return GatewayResult(ACCEPTED, data={"session_pk": session.pk})

    def _refusal(self, evse: EVSE, *, token_uid: str | None = None, reservation: Any = None) -> GatewayResult | None:
        if evse.status in INOPERATIVE:
            return GatewayResult("EVSE_INOPERATIVE", f"EVSE {evse.uid} is {evse.status}")
        busy = (
            ChargingSession.objects.for_party(evse.country_code, evse.party_id)
            .filter(evse_uid__iexact=evse.uid, received_from__isnull=True, status__in=["ACTIVE", "PENDING"])
            .exists()
        )
        if evse.status in OCCUPIED or busy:
            return GatewayResult("EVSE_OCCUPIED", f"EVSE {evse.uid} is in use")
        if evse.status == "RESERVED":
            holder = (
                Reservation.objects.filter(
                    status=ReservationStatus.ACTIVE,
                    country_code=evse.country_code,
                    party_id=evse.party_id,
                    evse_uid__iexact=evse.uid,
                )
                .select_related("session")
                .first()
            )
            mine = holder is not None and (
                (reservation is not None and holder.pk == reservation.pk)
                or (token_uid and holder.cdr_token.get("uid", "").upper() == token_uid.upper())
            )
            if not mine:
                return GatewayResult("EVSE_OCCUPIED", f"EVSE {evse.uid} is reserved")
        return None

    def stop_session(self, *, session: ChargingSession, timeout: float) -> GatewayResult:
        forced = self._wait(timeout)
        if forced is not None:
            return forced
        session = ChargingSession.objects.get(pk=session.pk)
        if session.is_final or session.status == SessionStatus.RESERVATION:
            return GatewayResult("REJECTED", f"No transaction running for session {session.ocpi_id}")
        session, _cdr = events.session_stopped(session=session, stopped_at=timezone.now())
        return GatewayResult(ACCEPTED, data={"session_pk": session.pk})

    def unlock_connector(self, *, evse: EVSE, connector_id: str, timeout: float) -> GatewayResult:
        forced = self._wait(timeout)
        if forced is not None:
            return forced
        evse = self._fresh(evse)
        if evse.status in INOPERATIVE:
            return GatewayResult("FAILED", f"EVSE {evse.uid} is {evse.status}: unlock failed")
        return GatewayResult(ACCEPTED)

    def reserve_now(
        self, *, reservation: Reservation, evse: EVSE | None, expiry_date: datetime, timeout: float
    ) -> GatewayResult:
        forced = self._wait(timeout)
        if forced is not None:
            return forced
        if expiry_date <= timezone.now():
            return GatewayResult("REJECTED", "expiry_date is in the past")
        if evse is None:
            evse = self._free_reservable(reservation)
            if evse is None:
                return GatewayResult("EVSE_OCCUPIED", "No reservable EVSE is available at this location")
        evse = self._fresh(evse)
        refusal = self._refusal(evse, reservation=reservation)
        if refusal is not None:
            return refusal
        events.evse_status_changed(evse=evse, status="RESERVED")
        return GatewayResult(ACCEPTED, data={"evse_uid": evse.uid})

    @staticmethod
    def _free_reservable(reservation: Reservation) -> EVSE | None:
        location = location_get(
            country_code=reservation.country_code, party_id=reservation.party_id, location_id=reservation.location_id
        )
        if location is None:
            return None
        for evse in location.evses.order_by("pk"):
            if "RESERVABLE" in (evse.capabilities or []) and evse.status == "AVAILABLE":
                return evse
        return None

    def cancel_reservation(self, *, reservation: Reservation, timeout: float) -> GatewayResult:
        forced = self._wait(timeout)
        if forced is not None:
            return forced
        reservation = Reservation.objects.get(pk=reservation.pk)
        if reservation.status != ReservationStatus.ACTIVE:
            return GatewayResult("UNKNOWN_RESERVATION", f"No reservation {reservation.pk} on the charge point")
        evse = self._reserved_evse(reservation)
        if evse is not None and evse.status == "RESERVED":
            events.evse_status_changed(evse=evse, status="AVAILABLE")
        return GatewayResult(ACCEPTED)

    def reservation_expired(self, *, reservation: Reservation) -> None:
        """The simulated charge point frees an EVSE whose reservation expired (a real one does so itself)."""
        evse = self._reserved_evse(reservation)
        if evse is not None and evse.status == "RESERVED":
            events.evse_status_changed(evse=evse, status="AVAILABLE")

    @staticmethod
    def _reserved_evse(reservation: Reservation) -> EVSE | None:
        if not reservation.evse_uid:
            return None
        location = location_get(
            country_code=reservation.country_code, party_id=reservation.party_id, location_id=reservation.location_id
        )
        return evse_get(location=location, evse_uid=reservation.evse_uid) if location else None

    # --- charging profiles --------------------------------------------------------------------------------

    def set_charging_profile(
        self, *, session: ChargingSession, charging_profile: dict[str, Any], timeout: float
    ) -> GatewayResult:
        forced = self._wait_profile(timeout)
        if forced is not None:
            return forced
        session = ChargingSession.objects.get(pk=session.pk)
        if session.status != SessionStatus.ACTIVE:
            return GatewayResult("REJECTED", f"Session {session.ocpi_id} is {session.status}")
        return GatewayResult(ACCEPTED)

    def clear_charging_profile(self, *, session: ChargingSession, timeout: float) -> GatewayResult:
        forced = self._wait_profile(timeout)
        if forced is not None:
            return forced
        if _profile_in_force(session) is None:
            return GatewayResult("UNKNOWN", "No charging profile is set on this session")
        return GatewayResult(ACCEPTED)

    def get_active_charging_profile(self, *, session: ChargingSession, duration: int, timeout: float) -> GatewayResult:
        forced = self._wait_profile(timeout)
        if forced is not None:
            return forced
        session = ChargingSession.objects.get(pk=session.pk)
        if session.status != SessionStatus.ACTIVE:
            return GatewayResult("REJECTED", f"Session {session.ocpi_id} is {session.status}")
        profile = active_charging_profile(session=session, duration=duration)
        if profile is None:
            return GatewayResult("REJECTED", "Unknown EVSE or connector")
        return GatewayResult(ACCEPTED, data={"profile": profile})


def _profile_in_force(session: ChargingSession) -> dict[str, Any] | None:
    """The last ChargingProfile set on the session and not cleared since (the simulator's memory)."""
    last = (
        ChargingProfileRequest.objects.filter(
            charging_session=session,
            action__in=[ChargingProfileAction.SET, ChargingProfileAction.CLEAR],
            result=ChargingProfileResultType.ACCEPTED,
        )
        .order_by("-result_at", "-pk")
        .first()
    )
    if last is None or last.action == ChargingProfileAction.CLEAR:
        return None
    return last.charging_profile


def _one_decimal(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.1"), rounding=ROUND_DOWN))


def active_charging_profile(
    *, session: ChargingSession, duration: int, now: datetime | None = None
) -> dict[str, Any] | None:
    """The ActiveChargingProfile the charge point would compute now for the next `duration` seconds.

    The profile in force (if any) shifted to now, each limit capped at the connector's maximum (W, or A per
    phase); where no profile applies the limit is the connector's maximum (chargingprofiles.md 4: "the EVSE's
    maximum capacity").
    """
    evse = events._evse_of(session)
    if evse is None:
        return None
    try:
        connector = events.connector_for(evse, session.connector_id)
    except events.GatewayEventError:
        return None
    now = now or timezone.now()
    profile = _profile_in_force(session)
    unit = (profile or {}).get("charging_rate_unit", "W")
    maximum = Decimal(connector.max_amperage if unit == "A" else events.connector_max_power_w(connector))
    periods: list[dict[str, Any]] = []
    if profile:
        origin = parse_datetime(profile["start_date_time"]) if profile.get("start_date_time") else None
        offset = int((now - (origin or session.start_date_time)).total_seconds())
        end = profile.get("duration")
        source = sorted(profile.get("charging_profile_period") or [], key=lambda p: p["start_period"])
        if end is None or offset < end:
            for index, period in enumerate(source):
                following = source[index + 1]["start_period"] if index + 1 < len(source) else None
                if following is not None and following <= offset:
                    continue  # this period is over
                start = max(0, period["start_period"] - offset)
                if start >= duration:
                    break
                limit = min(Decimal(str(period["limit"])), maximum)
                periods.append({"start_period": start, "limit": _one_decimal(limit)})
            if end is not None and end - offset < duration:
                periods.append({"start_period": max(0, end - offset), "limit": _one_decimal(maximum)})
    if not periods or periods[0]["start_period"] > 0:
        periods.insert(0, {"start_period": 0, "limit": _one_decimal(maximum)})
    charging_profile: dict[str, Any] = {
        "start_date_time": format_datetime(now),
        "duration": duration,
        "charging_rate_unit": unit,
        "charging_profile_period": periods,
    }
    if profile and profile.get("min_charging_rate") is not None:
        charging_profile["min_charging_rate"] = profile["min_charging_rate"]
    return {"start_date_time": format_datetime(now), "charging_profile": charging_profile}
