"""Gateway events: what charge points report, turned into EVSE statuses, sessions and CDRs.

The one entry point for events coming IN from a charge point gateway (the simulator now, OCPP later):
`evse_status_changed` (StatusNotification), `session_started` (StartTransaction), `meter_values`
(MeterValues: one interval = one ChargingPeriod), `session_stopped` (StopTransaction, then unplug).
Every change goes through the locations/sessions/cdrs services, which push to partners through the outbox
in the same transaction. Call these outside any HTTP request to a partner (no HTTP happens here).

Lock order: a session starting or stopping changes its EVSE and so its location; the location row is locked first
(locations.services.location_lock), before the session and the EVSE, like every other write of a location
(see locations/services.py). Concurrent starts, stops and status changes of EVSEs of one location then queue on
the location instead of deadlocking in PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cdrs.services import CdrError, cdr_create_from_session
from locations.services import evse_set_status, location_lock
from sessions.gateway import GatewayEventError
from sessions.models import ChargingSession, SessionStatus
from sessions.reservations import reservation_use
from sessions.selectors import connector_for, evse_currency, evse_tariffs
from sessions.serializers import to_stored_period
from sessions.services import (
    session_add_period,
    session_replace_periods,
    session_start,
    session_stop,
    session_update,
)
from tariffs.engine import ChargingDataError, TariffError, price, select_tariff

if TYPE_CHECKING:
    from locations.models import EVSE, Connector

logger = logging.getLogger(__name__)

ENERGY_QUANTUM = Decimal("0.001")  # kWh: meter resolution of 1 Wh
HOURS_QUANTUM = Decimal("0.000001")


# --- helpers ----------------------------------------------------------------------------------------


def connector_max_power_w(connector: Connector) -> int:
    """The connector's maximum power in W: max_electric_power, else voltage x amperage (x 3 for AC_3_PHASE:
    OCPI's max_voltage of a three-phase connector is line to neutral)."""
    if connector.max_electric_power:
        return int(connector.max_electric_power)
    phases = 3 if connector.power_type == "AC_3_PHASE" else 1
    return int(connector.max_voltage * connector.max_amperage * phases)


def _tariff_for(session: ChargingSession, evse: EVSE, connector: Connector) -> Mapping[str, Any] | None:
    """The tariff a CDR of this session would use (cdrs.services rules: AD_HOC_PAYMENT for ad-hoc tokens)."""
    wanted = "AD_HOC_PAYMENT" if (session.cdr_token or {}).get("type") == "AD_HOC_USER" else "REGULAR"
    return select_tariff(evse_tariffs(evse, connector), at=session.start_date_time, tariff_type=wanted)


def _running_cost(
    session: ChargingSession, periods: list[dict[str, Any]], until: datetime, evse: EVSE | None = None
) -> tuple[Decimal | None, Decimal | None]:
    """total_cost so far with the session's tariff (None, None when unpriced or not priceable). `evse`: the
    session's EVSE with its location, when the caller has read it already."""
    evse = evse or _evse_of(session)
    if evse is None or not periods:
        return None, None
    try:
        connector = connector_for(evse, session.connector_id)
        tariff = _tariff_for(session, evse, connector)
        if tariff is None:
            return None, None
        result = price(tariff, periods, end_date_time=until, time_zone=evse.location.time_zone)
    except (GatewayEventError, TariffError, ChargingDataError) as exc:
        logger.info("Session %s: no running cost (%s)", session.pk, exc)
        return None, None
    cost = result.total_cost.to_ocpi()  # rounded to 4 decimals like the CDR's
    return cost["excl_vat"], cost.get("incl_vat")


def _evse_of(session: ChargingSession) -> EVSE | None:
    """The session's EVSE with its location, in one query (every meter value prices the session with it)."""
    from locations.models import EVSE

    return (
        EVSE.objects.select_related("location")
        .filter(
            country_code=session.country_code.upper(),  # an EVSE's party is its location's (stored upper case)
            party_id=session.party_id.upper(),
            location__ocpi_id__iexact=session.location_id,
            uid__iexact=session.evse_uid,
        )
        .order_by("location_id", "pk")
        .first()
    )


def _hours(start: datetime, end: datetime) -> Decimal:
    return (Decimal(int((end - start).total_seconds() * 1000)) / Decimal(3_600_000)).quantize(HOURS_QUANTUM)


# --- events -----------------------------------------------------------------------------------------


def evse_status_changed(*, evse: EVSE, status: str) -> EVSE:
    """StatusNotification: a new EVSE status (no-op when unchanged); pushed to partners by the locations app."""
    return evse_set_status(evse=evse, status=status)


@transaction.atomic
def session_started(
    *,
    evse: EVSE,
    connector_id: str | None,
    cdr_token: dict[str, Any],
    auth_method: str,
    started_at: datetime | None = None,
    authorization_reference: str | None = None,
    token_owner_partner: Any = None,
    meter_id: str | None = None,
) -> ChargingSession:
    """StartTransaction: a session starts on one of our EVSEs; the EVSE becomes CHARGING.

    A RESERVATION session of the same token on this EVSE (or on no EVSE yet) becomes ACTIVE (sessions.md 1:
    "if the reservation leads to charging with the same token"), otherwise a new ACTIVE session is created.
    """
    started_at = started_at or timezone.now()
    location = location_lock(evse.location)  # first: see the module docstring
    connector = connector_for(evse, connector_id)
    session = reservation_use(
        evse=evse,
        connector_id=connector.ocpi_id,
        token_uid=cdr_token["uid"],
        started_at=started_at,
        auth_method=auth_method,
        authorization_reference=authorization_reference,
    )
    if session is None:
        session = session_start(
            country_code=evse.country_code,
            party_id=evse.party_id,
            location_id=location.ocpi_id,
            evse_uid=evse.uid,
            connector_id=connector.ocpi_id,
            cdr_token=cdr_token,
            auth_method=auth_method,
            authorization_reference=authorization_reference,
            start_date_time=started_at,
            currency=evse_currency(evse, connector),
            token_owner_partner=token_owner_partner,
            meter_id=meter_id,
        )
    evse_status_changed(evse=evse, status="CHARGING")
    logger.info("Session %s started on EVSE %s (%s)", session.ocpi_id, evse.uid, auth_method)
    return session


@transaction.atomic
def meter_values(
    *,
    session: ChargingSession,
    period_start: datetime,
    period_end: datetime,
    kwh_total: Decimal | float | int | str,
    max_power_kw: Decimal | float | int | str | None = None,
) -> ChargingSession:
    """MeterValues of one interval [period_start, period_end): a ChargingPeriod with the energy charged in it
    (kwh_total is the cumulative meter reading at period_end), its duration and its peak power; the session's
    kwh and running total_cost follow (priced with the connector's tariff)."""
    if period_end <= period_start:
        raise GatewayEventError("period_end must be after period_start")
    total = Decimal(str(kwh_total)).quantize(ENERGY_QUANTUM)
    energy = total - Decimal(session.kwh or 0)
    if energy < 0:
        raise GatewayEventError(f"meter went backwards: {total} kWh < {session.kwh} kWh")
    dimensions = _dimensions(energy, period_start, period_end, max_power_kw)
    periods = [
        *(session.charging_periods or []),
        to_stored_period({"start_date_time": period_start, "dimensions": dimensions}),
    ]
    cost_excl, cost_incl = _running_cost(session, periods, period_end)
    return session_add_period(
        session=session,
        start_date_time=period_start,
        dimensions=dimensions,
        kwh_total=total,
        cost_excl_vat=cost_excl,
        cost_incl_vat=cost_incl,
    )


def _dimensions(
    energy: Decimal, start: datetime, end: datetime, max_power_kw: Decimal | float | int | str | None = None
) -> list[dict[str, Any]]:
    hours = _hours(start, end)
    power = Decimal(str(max_power_kw)) if max_power_kw is not None else (energy / hours if hours else Decimal(0))
    return [
        {"type": "ENERGY", "volume": energy},
        {"type": "TIME", "volume": hours},
        {"type": "MAX_POWER", "volume": power.quantize(ENERGY_QUANTUM)},
    ]


@transaction.atomic
def meter_values_replayed(
    *, session: ChargingSession, started_at: datetime, readings: list[tuple[datetime, Decimal]]
) -> ChargingSession:
    """All meter readings of a running session again, in timestamp order: (time, cumulative kWh since the
    start). For readings that arrived out of order (a charge point sending what it queued while offline after
    newer ones): the charging periods are rebuilt, one per interval, and the session is PUT again."""
    periods: list[dict[str, Any]] = []
    previous_at, previous_kwh = started_at, Decimal(0)
    for at, kwh in sorted(readings):
        total = Decimal(str(kwh)).quantize(ENERGY_QUANTUM)
        if at <= previous_at:
            continue
        if total < previous_kwh:
            raise GatewayEventError(f"meter went backwards at {at}: {total} kWh < {previous_kwh} kWh")
        dims = _dimensions(total - previous_kwh, previous_at, at)
        periods.append(to_stored_period({"start_date_time": previous_at, "dimensions": dims}))
        previous_at, previous_kwh = at, total
    cost_excl, cost_incl = _running_cost(session, periods, previous_at)
    return session_replace_periods(
        session=session,
        charging_periods=periods,
        kwh_total=previous_kwh,
        cost_excl_vat=cost_excl,
        cost_incl_vat=cost_incl,
    )


def session_stopped(
    *,
    session: ChargingSession,
    stopped_at: datetime,
    ended_at: datetime | None = None,
    create_cdr: bool = True,
    readings: list[tuple[datetime, Decimal]] | None = None,
    readings_since: datetime | None = None,
    release_evse: bool = True,
) -> tuple[ChargingSession, Any]:
    """StopTransaction at `stopped_at` (charging ends); the EV leaves at `ended_at` (default: at once).

    `readings`: the last meter values, (time, cumulative kWh since the start), newer than `readings_since` (the
    end of the session's last charging period; default its start): one ChargingPeriod per interval, as
    meter_values would add them, but written with the stop (one session write, one push). Idle time between
    stopped_at and ended_at is a PARKING_TIME period. The session is COMPLETED at ended_at with its running cost,
    the EVSE becomes AVAILABLE and the CDR is issued (cdrs.services.cdr_create_from_session, which pushes it).
    Returns (session, cdr); cdr is None when it could not be issued (logged: the session stays COMPLETED and staff
    can issue it later) or with create_cdr=False (then `session_cdr`).

    Three transactions (one when called inside the caller's): the session (its rows only, the expensive part:
    pricing, the push), then the EVSE (`evse_released`: the location locked first, held only for the EVSE's
    own write; release_evse=False leaves it to the caller), then the CDR. So stops of several EVSEs of one
    location queue on the location only for the short EVSE write, and no transaction that holds a session
    ever waits for a location (starts lock the location first, then the session).
    """
    ended_at = ended_at or stopped_at
    if ended_at < stopped_at:
        raise GatewayEventError("ended_at must not be before stopped_at")
    evse = _evse_of(session)
    with transaction.atomic():  # the session's rows only: the location is not locked while pricing
        session = ChargingSession.objects.get(pk=session.pk)
        if session.is_final:
            raise GatewayEventError(f"Session {session.ocpi_id} is already {session.status}")
        new: list[dict[str, Any]] = []
        kwh = Decimal(session.kwh or 0)
        previous_at = readings_since or session.start_date_time
        for at, total in sorted(readings or []):
            total = Decimal(str(total)).quantize(ENERGY_QUANTUM)
            if at <= previous_at:
                continue
            if total < kwh:
                raise GatewayEventError(f"meter went backwards: {total} kWh < {kwh} kWh")
            new.append({"start_date_time": previous_at, "dimensions": _dimensions(total - kwh, previous_at, at)})
            previous_at, kwh = at, total
        if ended_at > stopped_at:
            parking = [{"type": "PARKING_TIME", "volume": _hours(stopped_at, ended_at)}]
            new.append({"start_date_time": stopped_at, "dimensions": parking})
        periods = [*(session.charging_periods or []), *(to_stored_period(p) for p in new)]
        cost_excl, cost_incl = _running_cost(session, periods, ended_at, evse=evse) if periods else (None, None)
        if session.status != SessionStatus.ACTIVE:
            session = session_update(session=session, status=SessionStatus.ACTIVE)
        session = session_stop(
            session=session,
            end_date_time=ended_at,
            charging_periods=new,
            kwh_total=kwh,
            cost_excl_vat=cost_excl,
            cost_incl_vat=cost_incl,
        )
    if release_evse:
        evse_released(session, evse=evse)
    cdr = session_cdr(session) if create_cdr else None
    logger.info("Session %s stopped (%s kWh), CDR %s", session.ocpi_id, session.kwh, getattr(cdr, "ocpi_id", None))
    return session, cdr


def evse_released(session: ChargingSession, *, evse: EVSE | None = None) -> None:
    """A session of this EVSE ended: the EVSE becomes AVAILABLE unless another session is active on it (one
    transaction: the location locked first)."""
    evse = evse or _evse_of(session)
    if evse is None:
        return
    with transaction.atomic():
        location_lock(evse.location)  # first: see the module docstring
        if not _other_active(session):
            evse_status_changed(evse=evse, status="AVAILABLE")


def _other_active(session: ChargingSession) -> bool:
    return (
        ChargingSession.objects.for_party(session.country_code, session.party_id)
        .filter(evse_uid__iexact=session.evse_uid, received_from__isnull=True)
        .exclude(pk=session.pk)
        .active()
        .exclude(status=SessionStatus.RESERVATION)
        .exists()
    )


def session_cdr(session: ChargingSession) -> Any:
    """Issue the CDR of a stopped session (None, logged, when it cannot be issued)."""
    try:
        return cdr_create_from_session(session=session)
    except (CdrError, ValidationError) as exc:
        logger.warning("Session %s: CDR not issued: %s", session.ocpi_id, exc)
        return None


__all__ = [
    "GatewayEventError",
    "connector_for",
    "connector_max_power_w",
    "evse_released",
    "evse_status_changed",
    "meter_values",
    "meter_values_replayed",
    "session_cdr",
    "session_started",
    "session_stopped",
]
