"""Writes of CDRs: issue one from a completed session, credit one, store one a partner CPO sent, check its cost.

CDRs are immutable (cdrs.md 1): there is no update service. A correction is `cdr_credit` (a credit CDR with the
negated costs) followed by `cdr_create_from_session` again, which then issues a new CDR with a new id.
Every CDR we issue is pushed to the token owner through the outbox (module "cdrs", cdrs/push.py),
enqueued in the transaction that creates it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ocpi_platform.ocpi.envelope import format_datetime
from partners.models import Partner, Role
from partners.receiving import Received, ReceiveNotAllowedError, receive_retrying
from partners.selectors import our_party_get
from sessions.models import ChargingSession, SessionStatus

from .models import SESSION_ONLY_DIMENSIONS, Cdr, TariffCheckStatus
from .selectors import cdr_get_by_key, cdr_get_live_for_session, token_owner_partner_get
from .serializers import PRICE_FIELDS, CdrSerializer, cdr_to_ocpi

logger = logging.getLogger(__name__)

CDR_LOCATION_LIMITS = {"name": 255, "address": 45, "city": 45, "postal_code": 10, "state": 20}  # spec-issues C1
NOT_AVAILABLE = "#NA"  # transport.md 10
DEFAULT_COST_TOLERANCE = Decimal("0.01")  # money rounding is not specified (spec-issues F8)

#: Model columns filled from CdrSerializer.validated_data.
OCPI_COLUMNS = (
    "country_code",
    "party_id",
    "ocpi_id",
    "start_date_time",
    "end_date_time",
    "session_id",
    "cdr_token",
    "auth_method",
    "authorization_reference",
    "cdr_location",
    "meter_id",
    "currency",
    "tariffs",
    "charging_periods",
    "signed_data",
    "total_energy",
    "total_time",
    "total_parking_time",
    "remark",
    "invoice_reference_id",
    "credit",
    "credit_reference_id",
    "home_charging_compensation",
    "last_updated",
    *(f"{name}_{part}" for name in PRICE_FIELDS for part in ("excl_vat", "incl_vat")),
)
_BLANK_STRINGS = frozenset(
    {"session_id", "authorization_reference", "meter_id", "remark", "invoice_reference_id", "credit_reference_id"}
)
MONEY_COLUMNS = tuple(f"{name}_{part}" for name in PRICE_FIELDS for part in ("excl_vat", "incl_vat"))


class CdrError(ValueError):
    """A CDR cannot be created or stored; the message says why (shown to staff, or as a 2001 to a partner)."""


class CdrNotAllowedError(CdrError, ReceiveNotAllowedError):
    """The CDR is not the caller's to send (foreign CPO party, or a token not of our eMSP)."""


class CdrImmutableError(CdrError):
    """The CDR exists with other content: CDRs are never changed (cdrs.md 1), a credit CDR is needed."""


# --- Shared -----------------------------------------------------------------------------------------


def _columns(data: Mapping[str, Any]) -> dict[str, Any]:
    """validated_data (model names) -> Cdr column values, plus the copies used for filters and search."""
    fields: dict[str, Any] = {}
    for name in OCPI_COLUMNS:
        value = data.get(name)
        if name in _BLANK_STRINGS and value is None:
            value = ""
        fields[name] = value
    fields["tariffs"] = fields["tariffs"] or []
    token, location = data["cdr_token"], data["cdr_location"]
    fields["token_country_code"] = token["country_code"].upper()
    fields["token_party_id"] = token["party_id"].upper()
    fields["token_uid"] = token["uid"]
    fields["location_id"] = location["id"]
    return fields


def _validated(data: Mapping[str, Any]) -> dict[str, Any]:
    serializer = CdrSerializer(data=data)
    if not serializer.is_valid():
        raise CdrError(f"The CDR would not be valid OCPI: {serializer.errors}")
    return serializer.validated_data


def _enqueue_push(cdr: Cdr) -> None:
    """Outbox: POST the CDR to the token owner (the audience decides; nothing when the token is our own)."""
    if cdr.token_owner_partner_id is None:
        return
    from partners.outbox import outbox_enqueue  # the outbox imports the app registry lazily

    outbox_enqueue(module="cdrs", object_id=cdr.pk)


def _free_id(country_code: str, party_id: str, candidates: list[str], max_length: int) -> str:
    for candidate in candidates:
        if (
            len(candidate) <= max_length
            and cdr_get_by_key(country_code=country_code, party_id=party_id, ocpi_id=candidate) is None
        ):
            return candidate
    return str(uuid.uuid4())[:max_length]


# --- Issuing (CPO) ----------------------------------------------------------------------------------


def cdr_location_snapshot(*, location: Any, evse: Any, connector: Any) -> dict[str, Any]:
    """CdrLocation (cdrs.md 4.2) of the location, EVSE and connector used.

    Location.address/state are longer than CdrLocation allows (spec-issues C1): they are cut to 45/20 characters
    here, and the cut is logged.
    """
    values = {
        "name": location.name or None,
        "address": location.address,
        "city": location.city,
        "postal_code": location.postal_code or None,
        "state": location.state or None,
    }
    for key, limit in CDR_LOCATION_LIMITS.items():
        value = values[key]
        if value and len(value) > limit:
            logger.warning(
                "CdrLocation of %s: %s cut to %d characters (was %d): %r",
                location,
                key,
                limit,
                len(value),
                value,
            )
            values[key] = value[:limit]
    return {
        "id": location.ocpi_id,
        **{key: value for key, value in values.items() if value is not None},
        "country": location.country,
        "coordinates": {"latitude": location.latitude, "longitude": location.longitude},
        "evse_uid": evse.uid,
        "evse_id": evse.evse_id or NOT_AVAILABLE,
        "connector_id": connector.ocpi_id,
        "connector_standard": connector.standard,
        "connector_format": connector.format,
        "connector_power_type": connector.power_type,
    }


def _end_of(session: ChargingSession) -> datetime:
    """The end of a session _check_session accepted (it refuses one without)."""
    if session.end_date_time is None:
        raise CdrError(f"Session {session.ocpi_id} has no start or end time")
    return session.end_date_time


def _hours(start: datetime, end: datetime) -> Decimal:
    return Decimal(int((end - start).total_seconds() * 1_000_000)) / Decimal(3_600_000_000)


def _session_periods(session: ChargingSession) -> list[dict[str, Any]]:
    """The session's ChargingPeriods; a session without any gets one period with its kWh and duration."""
    periods = list(session.charging_periods or [])
    if periods:
        return periods
    return [
        {
            "start_date_time": format_datetime(session.start_date_time),
            "dimensions": [
                {"type": "ENERGY", "volume": Decimal(str(session.kwh or 0))},
                {"type": "TIME", "volume": _hours(session.start_date_time, _end_of(session))},
            ],
        }
    ]


def _unpriced(session: ChargingSession, periods: list[dict[str, Any]]) -> dict[str, Any]:
    """CDR totals of a session whose connector has no applicable tariff: free of charge, periods as measured."""
    cdr_periods = []
    parking = Decimal(0)
    for period in periods:
        dims = [d for d in period.get("dimensions") or [] if d.get("type") not in SESSION_ONLY_DIMENSIONS]
        parking += sum((Decimal(str(d["volume"])) for d in dims if d["type"] == "PARKING_TIME"), Decimal(0))
        item = {"start_date_time": period["start_date_time"], "dimensions": dims or [{"type": "TIME", "volume": 0}]}
        cdr_periods.append(item)
    return {
        "currency": session.currency,
        "charging_periods": cdr_periods,
        "total_cost": {"excl_vat": Decimal(0), "incl_vat": Decimal(0)},
        "total_energy": Decimal(str(session.kwh or 0)),
        "total_time": _hours(session.start_date_time, _end_of(session)),
        "total_parking_time": parking,
    }


def _check_session(session: ChargingSession) -> None:
    if session.received_from_id is not None:
        raise CdrError(f"Session {session.ocpi_id} was received from a partner: its CPO issues the CDR")
    if our_party_get(country_code=session.country_code, party_id=session.party_id, role=Role.CPO) is None:
        raise CdrError(f"Session {session.ocpi_id}: {session.country_code}/{session.party_id} is not our CPO")
    if session.status != SessionStatus.COMPLETED:
        raise CdrError(f"Session {session.ocpi_id} is {session.status}: only COMPLETED sessions get a CDR")
    if session.start_date_time is None or session.end_date_time is None:
        raise CdrError(f"Session {session.ocpi_id} has no start or end time")
    if not session.cdr_token:
        raise CdrError(f"Session {session.ocpi_id} has no cdr_token")


def cdr_data_from_session(*, session: ChargingSession) -> dict[str, Any]:
    """The OCPI CDR of a completed session of our CPO (not stored; the id is the first free one).

    Location/EVSE/connector come from the locations app, the tariff from the connector's `tariff_ids`
    (AD_HOC_PAYMENT for ad-hoc tokens, else REGULAR, else one without type; tariffs.md 5.1), and the periods and
    totals from the tariff engine in the location's time zone.
    """
    from locations.selectors import connector_get, evse_get, location_get
    from tariffs.engine import ChargingDataError, TariffError, price, select_tariff
    from tariffs.selectors import tariff_list_by_ids
    from tariffs.serializers import tariff_to_ocpi

    _check_session(session)
    location = location_get(
        country_code=session.country_code, party_id=session.party_id, location_id=session.location_id
    )
    evse = evse_get(location=location, evse_uid=session.evse_uid) if location else None
    connector = connector_get(evse=evse, connector_id=session.connector_id) if evse else None
    if location is None or connector is None:  # (no connector without its location)
        raise CdrError(
            f"Session {session.ocpi_id}: unknown location/EVSE/connector "
            f"{session.location_id}/{session.evse_uid}/{session.connector_id}"
        )
    token = dict(session.cdr_token)
    tariffs = [
        tariff_to_ocpi(t)
        for t in tariff_list_by_ids(
            country_code=location.country_code, party_id=location.party_id, ocpi_ids=connector.tariff_ids or []
        )
    ]
    wanted = "AD_HOC_PAYMENT" if token.get("type") == "AD_HOC_USER" else "REGULAR"
    tariff = select_tariff(tariffs, at=session.start_date_time, tariff_type=wanted)
    periods = _session_periods(session)
    if tariff is None:
        logger.warning("Session %s: no applicable tariff on connector %s; CDR is free of charge", session.pk, connector)
        priced = _unpriced(session, periods)
    else:
        try:
            result = price(tariff, periods, end_date_time=session.end_date_time, time_zone=location.time_zone)
        except (TariffError, ChargingDataError) as exc:
            raise CdrError(f"Session {session.ocpi_id} cannot be priced with tariff {tariff['id']}: {exc}") from exc
        priced = result.to_ocpi()
        has_energy = any(d.get("type") == "ENERGY" for p in periods for d in p.get("dimensions") or [])
        if not has_energy:
            priced["total_energy"] = Decimal(str(session.kwh or 0))
    cdr_id = _free_id(
        session.country_code,
        session.party_id,
        [session.ocpi_id, *(f"{session.ocpi_id}-{n}" for n in range(2, 100))],
        36,
    )
    return {
        **priced,
        "country_code": session.country_code,
        "party_id": session.party_id,
        "id": cdr_id,
        "start_date_time": format_datetime(session.start_date_time),
        "end_date_time": format_datetime(_end_of(session)),
        "session_id": session.ocpi_id,
        "cdr_token": token,
        "auth_method": session.auth_method,
        "authorization_reference": session.authorization_reference or None,
        "cdr_location": cdr_location_snapshot(location=location, evse=evse, connector=connector),
        "meter_id": session.meter_id or None,
        "tariffs": [tariff] if tariff is not None else [],
        "last_updated": format_datetime(timezone.now()),
    }


@transaction.atomic
def cdr_create_from_session(*, session: ChargingSession) -> Cdr:
    """Issue the CDR of a COMPLETED session of our CPO and enqueue its push to the token owner.

    Idempotent: while the session has a CDR that is not credited, that CDR is returned and nothing is created.
    After `cdr_credit` it issues a new (corrected) CDR with a new id.
    """
    locked = ChargingSession.objects.select_for_update().filter(pk=session.pk).first()
    if locked is None:
        raise CdrError(f"Session {session.pk} does not exist")
    existing = cdr_get_live_for_session(session=locked)
    if existing is not None:
        return existing
    data = _validated(cdr_data_from_session(session=locked))
    owner = locked.token_owner_partner or token_owner_partner_get(
        country_code=data["cdr_token"]["country_code"], party_id=data["cdr_token"]["party_id"]
    )
    cdr = Cdr(**_columns(data), charging_session=locked, token_owner_partner=owner)
    try:
        with transaction.atomic():
            cdr.save()
    except IntegrityError:
        existing = cdr_get_live_for_session(session=locked)
        if existing is None:
            raise
        return existing
    logger.info("Issued CDR %s for session %s (token owner: %s)", cdr, locked.pk, owner)
    _enqueue_push(cdr)
    return cdr


@transaction.atomic
def cdr_credit(*, cdr: Cdr) -> Cdr:
    """Cancel one of our issued CDRs with a credit CDR (cdrs.md 1.1) and enqueue its push.

    The credit CDR has all data of the original, a new id (original id + "-C"), credit=true,
    credit_reference_id = the original's id, and every cost negated (spec-issues E1: all total_*_cost fields,
    quantities stay positive). The original is marked credited so the session can get a corrected CDR.
    """
    original = Cdr.objects.select_for_update().filter(pk=cdr.pk).first()
    if original is None:
        raise CdrError(f"CDR {cdr.pk} does not exist")
    if original.is_received:
        raise CdrError(f"CDR {original} was received from a partner: only its CPO can credit it")
    if original.credit:
        raise CdrError(f"CDR {original} is a credit CDR itself")
    if original.credited_at is not None:
        raise CdrError(f"CDR {original} has already been credited")
    now = timezone.now()
    credit = Cdr(
        **{name: getattr(original, name) for name in OCPI_COLUMNS},
        token_country_code=original.token_country_code,
        token_party_id=original.token_party_id,
        token_uid=original.token_uid,
        location_id=original.location_id,
        charging_session=original.charging_session,
        token_owner_partner=original.token_owner_partner,
    )
    credit.ocpi_id = _free_id(
        original.country_code,
        original.party_id,
        [f"{original.ocpi_id}-C", *(f"{original.ocpi_id}-C{n}" for n in range(2, 10))],
        39,
    )
    credit.credit = True
    credit.credit_reference_id = original.ocpi_id
    credit.last_updated = now
    for name in MONEY_COLUMNS:
        value = getattr(original, name)
        if value is not None:
            setattr(credit, name, -value)
    credit.save()
    Cdr.objects.filter(pk=original.pk).update(credited_at=now)
    logger.info("Credited CDR %s with %s", original, credit)
    _enqueue_push(credit)
    return credit


# --- Receiving (eMSP) -------------------------------------------------------------------------------


def _same_content(existing: Cdr, fields: dict[str, Any]) -> bool:
    """Whether a replayed CDR equals the stored one (as OCPI JSON; last_updated aside)."""
    incoming = cdr_to_ocpi(Cdr(**fields))
    stored = cdr_to_ocpi(existing)
    incoming.pop("last_updated", None)
    stored.pop("last_updated", None)
    incoming["id"] = incoming["id"].upper()
    stored["id"] = stored["id"].upper()
    return incoming == stored


def _replay(existing: Cdr, partner: Partner, fields: dict[str, Any]) -> Cdr:
    if existing.received_from_id != partner.pk:
        # Another partner's CDR under this id: the message names only what the caller sent, never whose it is.
        raise CdrNotAllowedError(f"CDR {existing} cannot be written by this partner")
    if not _same_content(existing, fields):
        raise CdrImmutableError(
            f"CDR {existing} already exists with other content; CDRs cannot be changed: send a credit CDR "
            "and a new CDR with a new id"
        )
    return existing


def cdr_receive(*, partner: Partner, data: Mapping[str, Any]) -> Received:
    """eMSP Receiver POST (cdrs.md 3.1): store a CDR a partner CPO sent and check its cost -> Received(cdr, created).

    `data` is CdrSerializer.validated_data. Idempotent by (country_code, party_id, id) (spec-issues E3): the same
    CDR again returns the stored one (created False); other content under a known id is a CdrImmutableError.
    The CDR's party must be one the partner registered, and the token one of our eMSP's (CdrNotAllowedError).
    CDRs are immutable: no stale check; a POST that loses a race with the same CDR is answered as a replay.
    """
    country_code, party_id = data["country_code"].upper(), data["party_id"].upper()
    if not partner.holds_party(country_code, party_id, roles=(Role.CPO,)):
        raise CdrNotAllowedError(
            f"country_code/party_id: {country_code}/{party_id} is not a party registered by this partner"
        )
    token = data["cdr_token"]
    if our_party_get(country_code=token["country_code"], party_id=token["party_id"], role=Role.EMSP) is None:
        raise CdrNotAllowedError(
            f"cdr_token: {token['country_code']}/{token['party_id']} is not an eMSP party of this platform"
        )
    fields = _columns(data)
    return receive_retrying(
        lambda: _cdr_receive(partner, country_code, party_id, data["ocpi_id"], fields),
        log=logger,
        what=f"CDR {country_code}/{party_id}/{data['ocpi_id']}",
    )


def _cdr_receive(partner: Partner, country_code: str, party_id: str, ocpi_id: str, fields: dict[str, Any]) -> Received:
    existing = (
        Cdr.objects.select_for_update()
        .filter(country_code__iexact=country_code, party_id__iexact=party_id, ocpi_id__iexact=ocpi_id)
        .first()
    )
    if existing is not None:
        return Received(_replay(existing, partner, fields), created=False)
    cdr = Cdr(**fields, received_from=partner, tariff_check_status=TariffCheckStatus.UNCHECKED)
    cdr.save()
    cdr_check_tariff(cdr=cdr)
    logger.info("Received CDR %s from partner %s: tariff check %s", cdr, partner.pk, cdr.tariff_check_status)
    return Received(cdr, created=True)


# --- Tariff check of received CDRs ------------------------------------------------------------------

_LOCAL_TIME_RESTRICTIONS = ("start_time", "end_time", "start_date", "end_date", "day_of_week")


def _needs_local_time(tariff: Mapping[str, Any]) -> bool:
    return any(
        (element.get("restrictions") or {}).get(key)
        for element in tariff.get("elements") or []
        for key in _LOCAL_TIME_RESTRICTIONS
    )


def _tolerance() -> Decimal:
    return Decimal(str(getattr(settings, "OCPI_CDR_COST_TOLERANCE", DEFAULT_COST_TOLERANCE)))


def _fmt(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.normalize():f}"


def _expected_cost(cdr: Cdr) -> tuple[str, Decimal | None, Decimal | None, str]:
    """(status, expected excl, expected incl, note) of re-pricing the CDR with the partner's stored tariff."""
    from locations.selectors import location_get
    from tariffs.engine import ChargingDataError, TariffError, price, select_tariff
    from tariffs.selectors import tariff_list_by_ids
    from tariffs.serializers import tariff_to_ocpi

    unchecked = TariffCheckStatus.UNCHECKED
    period_ids = sorted({str(p["tariff_id"]).upper() for p in cdr.charging_periods if p.get("tariff_id")})
    if len(period_ids) > 1:
        return unchecked, None, None, f"periods use several tariffs ({', '.join(period_ids)})"
    ids = period_ids or sorted({str(t.get("id")) for t in cdr.tariffs or [] if t.get("id")})
    if not ids:
        return unchecked, None, None, "the CDR names no tariff"
    known = [
        tariff_to_ocpi(t)
        for t in tariff_list_by_ids(country_code=cdr.country_code, party_id=cdr.party_id, ocpi_ids=ids)
    ]
    if not known:
        return unchecked, None, None, f"no tariff {', '.join(ids)} of {cdr.country_code}/{cdr.party_id} is known"
    tariff = known[0] if len(known) == 1 else (select_tariff(known, at=cdr.start_date_time) or known[0])
    name = f"{cdr.country_code}/{cdr.party_id}/{tariff['id']}"
    if tariff["currency"] != cdr.currency:
        return (
            TariffCheckStatus.MISMATCH,
            None,
            None,
            f"currency {cdr.currency}, tariff {name} is in {tariff['currency']}",
        )
    location = location_get(country_code=cdr.country_code, party_id=cdr.party_id, location_id=cdr.location_id)
    zone = location.time_zone if location is not None else None
    if zone is None:
        if _needs_local_time(tariff):
            return unchecked, None, None, f"time zone of location {cdr.location_id} unknown; tariff {name} needs it"
        zone = "UTC"
    try:
        result = price(tariff, cdr.charging_periods, end_date_time=cdr.end_date_time, time_zone=zone)
    except (TariffError, ChargingDataError) as exc:
        return unchecked, None, None, f"cannot price with tariff {name}: {exc}"
    total = result.total_cost.to_ocpi()
    sign = Decimal(-1) if cdr.credit else Decimal(1)
    excl = sign * total["excl_vat"]
    incl = sign * total["incl_vat"] if total.get("incl_vat") is not None else None
    tolerance = _tolerance()
    mismatch = abs(cdr.total_cost_excl_vat - excl) > tolerance or (
        incl is not None and cdr.total_cost_incl_vat is not None and abs(cdr.total_cost_incl_vat - incl) > tolerance
    )
    note = (
        f"CDR total_cost {_fmt(cdr.total_cost_excl_vat)} excl / {_fmt(cdr.total_cost_incl_vat)} incl VAT; "
        f"tariff {name} gives {_fmt(excl)} excl / {_fmt(incl)} incl VAT {cdr.currency}"
    )
    return (TariffCheckStatus.MISMATCH if mismatch else TariffCheckStatus.OK), excl, incl, note


def cdr_check_tariff(*, cdr: Cdr) -> Cdr:
    """Re-price a received CDR with the partner's tariff as we hold it and record OK / MISMATCH (with both figures)
    or UNCHECKED (no tariff known, several tariffs, unknown time zone, not priceable). Safe to run again."""
    if not cdr.is_received:
        raise CdrError(f"CDR {cdr} is ours: only received CDRs are checked")
    status, excl, incl, note = _expected_cost(cdr)
    cdr.tariff_check_status = status
    cdr.expected_total_cost_excl_vat = excl
    cdr.expected_total_cost_incl_vat = incl
    cdr.tariff_check_note = note[:500]
    cdr.save(
        update_fields=[
            "tariff_check_status",
            "expected_total_cost_excl_vat",
            "expected_total_cost_incl_vat",
            "tariff_check_note",
        ]
    )
    if status == TariffCheckStatus.MISMATCH:
        logger.warning("CDR %s from partner %s: tariff mismatch: %s", cdr, cdr.received_from_id, note)
    return cdr


def cdr_mark_pushed(*, cdr_id: int, location: str) -> None:
    """Record where the token owner stored our CDR (its Location header); bookkeeping, not a CDR change."""
    Cdr.objects.filter(pk=cdr_id).update(pushed_location=location[:512], pushed_at=timezone.now())
