"""One whole simulated charging session on one of our EVSEs, driven through the gateway events
(`python manage.py simulate_charging`): authorization by the token's whitelist rules, start, meter values,
stop, optional idle (parking) time, CDR. Everything partners must receive goes out through the outbox."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from sessions.models import ChargingSession
from tokens.selectors import token_owner_partner
from tokens.services import token_authorize_at_charge_point

from . import events
from .simulator import INOPERATIVE, OCCUPIED

if TYPE_CHECKING:
    from locations.models import EVSE

logger = logging.getLogger(__name__)

DEFAULT_PERIOD_MINUTES = 15
TAPER_FROM = Decimal("0.7")  # the battery tapers (CC-CV) over the last 30 % of the charging time
TAPER_TO = Decimal("0.4")  # ... down to 40 % of the bulk power


class SimulationError(ValueError):
    """The simulation cannot run (bad arguments, EVSE not usable, authorization denied)."""


@dataclass
class SimulationReport:
    decision: Any  # tokens AuthorizationDecision
    session: ChargingSession
    periods: list[dict[str, Any]] = field(default_factory=list)
    cdr: Any = None
    evse_statuses: list[str] = field(default_factory=list)


def _weights(bounds: list[datetime], start: datetime, minutes: Decimal) -> list[Decimal]:
    """Relative energy per interval: full power, then a linear taper (evaluated at each interval's middle)."""
    total = Decimal(str(minutes * 60))
    out = []
    for begin, end in pairwise(bounds):
        seconds = Decimal(str((end - begin).total_seconds()))
        middle = (Decimal(str((begin - start).total_seconds())) + seconds / 2) / total
        factor = Decimal(1)
        if middle > TAPER_FROM:
            factor = 1 - (1 - TAPER_TO) * (middle - TAPER_FROM) / (1 - TAPER_FROM)
        out.append(seconds * factor)
    return out


def charging_simulate(
    *,
    evse: EVSE,
    token_country_code: str,
    token_party_id: str,
    token_uid: str,
    token_type: str = "RFID",
    kwh: Decimal,
    minutes: Decimal,
    start: datetime | None = None,
    idle_minutes: Decimal = Decimal(0),
    period_minutes: int = DEFAULT_PERIOD_MINUTES,
    timeout: float | None = None,
) -> SimulationReport:
    """Run one session on `evse` for the token (country_code, party_id, uid, type).

    `start` (aware) is when charging began, default now minus charging and idle time; `kwh` is spread over
    meter-value periods of `period_minutes` with a realistic charging curve; `idle_minutes` after charging is
    parking time. Raises SimulationError for impossible arguments, an unusable EVSE or a denied token.
    """
    kwh, minutes, idle_minutes = Decimal(str(kwh)), Decimal(str(minutes)), Decimal(str(idle_minutes))
    if kwh < 0:
        raise SimulationError("--kwh must not be negative")
    if minutes <= 0:
        raise SimulationError("--minutes must be more than 0")
    if idle_minutes < 0:
        raise SimulationError("--idle-minutes must not be negative")
    if period_minutes <= 0:
        raise SimulationError("the meter value period must be more than 0 minutes")
    if start is None:
        start = timezone.now() - timedelta(minutes=float(minutes + idle_minutes))
    if timezone.is_naive(start):
        raise SimulationError("--start needs a UTC offset, e.g. 2024-05-01T10:00:00+02:00")
    connector = events.connector_for(evse, None)
    max_kw = Decimal(events.connector_max_power_w(connector)) / 1000
    average_kw = kwh / (minutes / 60)
    # The bulk power is above the average because of the taper; it must fit the connector.
    bulk_kw = average_kw / (1 - (1 - TAPER_FROM) * (1 - TAPER_TO) / 2)
    if bulk_kw > max_kw:
        raise SimulationError(
            f"{kwh} kWh in {minutes} minutes needs about {bulk_kw:.1f} kW; EVSE {evse.uid} delivers at most {max_kw} kW"
        )
    if evse.status in INOPERATIVE or evse.status in OCCUPIED:
        raise SimulationError(f"EVSE {evse.uid} is {evse.status}: no session can start there")

    location = evse.location
    decision = token_authorize_at_charge_point(
        country_code=token_country_code,
        party_id=token_party_id,
        uid=token_uid,
        type=token_type,
        location_id=location.ocpi_id,
        evse_uid=evse.uid,
        timeout=timeout,
    )
    if not decision.allowed:
        raise SimulationError(
            f"Token {token_country_code}/{token_party_id}/{token_uid} ({token_type}) was refused: "
            f"{decision.status} via {decision.source}{f' ({decision.detail})' if decision.detail else ''}"
        )
    token = decision.token
    cdr_token = {
        "country_code": token.country_code if token else token_country_code.upper(),
        "party_id": token.party_id if token else token_party_id.upper(),
        "uid": token.ocpi_id if token else token_uid,
        "type": token.type if token else token_type,
        "contract_id": token.contract_id if token else token_uid,
    }
    owner = decision.owner or token_owner_partner(country_code=token_country_code, party_id=token_party_id)
    statuses = [evse.status]
    session = events.session_started(
        evse=evse,
        connector_id=connector.ocpi_id,
        cdr_token=cdr_token,
        auth_method="AUTH_REQUEST" if decision.source == "REALTIME" else "WHITELIST",
        started_at=start,
        authorization_reference=decision.authorization_reference,
        token_owner_partner=owner,
    )
    statuses.append(_status(evse))

    stopped_at = start + timedelta(minutes=float(minutes))
    count = max(1, math.ceil(minutes / period_minutes))
    bounds = [start + timedelta(minutes=period_minutes * i) for i in range(count)] + [stopped_at]
    weights = _weights(bounds, start, minutes)
    total_weight = sum(weights) or Decimal(1)
    cumulative = Decimal(0)
    for index, (begin, end) in enumerate(pairwise(bounds)):
        if index == count - 1:
            reading = kwh
        else:
            cumulative += kwh * weights[index] / total_weight
            reading = cumulative.quantize(events.ENERGY_QUANTUM)
        energy = reading - Decimal(session.kwh or 0)
        hours = Decimal(str((end - begin).total_seconds())) / 3600
        peak = min(energy / hours * Decimal("1.05"), max_kw) if hours else Decimal(0)
        session = events.meter_values(
            session=session, period_start=begin, period_end=end, kwh_total=reading, max_power_kw=peak
        )
    ended_at = stopped_at + timedelta(minutes=float(idle_minutes))
    session, cdr = events.session_stopped(session=session, stopped_at=stopped_at, ended_at=ended_at)
    statuses.append(_status(evse))
    return SimulationReport(
        decision=decision,
        session=session,
        periods=list(session.charging_periods or []),
        cdr=cdr,
        evse_statuses=statuses,
    )


def _status(evse: EVSE) -> str:
    return type(evse).objects.values_list("status", flat=True).get(pk=evse.pk)
