"""Every write to charging sessions: our CPO sessions (start, periods, stop, updates, charging preferences)
and the sessions partner CPOs push to our eMSP Receiver.

Every change to one of our sessions enqueues a push to the token owner in the same transaction (`_push`):
hints name the changed OCPI fields ({"fields": [...]}, PATCH) or ask for the whole object ({"full": True},
PUT). Progress-only changes (kwh, charging_periods, total_cost) are paced by the outbox: at most one send per
OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS per session; a paced change is delivered later, never dropped, and
any other change (status, end, final state) goes out at once with everything owed (sessions/push.py,
`session_pace`).
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import serializers

from ocpi_platform.ocpi.fields import parse_datetime
from partners.models import Partner, Party, Role
from partners.receiving import (
    Received,
    ReceiveNotAllowedError,
    receive_claim,
    receive_is_stale,
    receive_party_check,
    receive_retrying,
)
from partners.selectors import our_party_get
from tokens.selectors import token_owner_partner

from .models import FINAL_STATUSES, ChargingPreferencesResponse, ChargingSession, SessionStatus
from .selectors import session_get
from .serializers import (
    CdrDimensionSerializer,
    CdrTokenSerializer,
    ChargingPreferencesSerializer,
    to_stored_period,
    to_stored_periods,
    to_stored_preferences,
    to_stored_token,
)

logger = logging.getLogger(__name__)

MODULE = "sessions"
# Model field -> OCPI field, for push hints.
_SPEC_NAMES = {"ocpi_id": "id", "total_cost_excl_vat": "total_cost", "total_cost_incl_vat": "total_cost"}
# Fields of our own sessions that session_update may change (keys, token and periods have their own paths).
EDITABLE_FIELDS = (
    "status",
    "start_date_time",
    "end_date_time",
    "kwh",
    "auth_method",
    "authorization_reference",
    "meter_id",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "evse_uid",
    "connector_id",
)
_OPTIONAL_TEXT = ("authorization_reference", "meter_id")


class SessionPartyNotAllowedError(ReceiveNotAllowedError):
    """A partner pushed a session under one of our own parties."""


class ChargingPreferencesNotSupportedError(Exception):
    """The session's EVSE lacks the CHARGING_PREFERENCES_CAPABLE capability (sessions.md 2.2)."""


def _now() -> datetime:
    """The sessions clock (tests move it together with the outbox clock)."""
    return timezone.now()


# --- Helpers ----------------------------------------------------------------------------------------


def _validated(serializer_class: type[serializers.Serializer], data: Any, field: str, *, many: bool = False) -> Any:
    """Validate a service argument with the canonical serializer; errors become a ValidationError on `field`."""
    serializer = serializer_class(data=data, many=many)
    if not serializer.is_valid():
        raise ValidationError({field: str(serializer.errors)})
    return serializer.validated_data


def _our_cpo_party(country_code: str, party_id: str) -> Party:
    party = our_party_get(country_code=country_code, party_id=party_id, role=Role.CPO)
    if party is None:
        raise ValidationError(
            {"party_id": f"{country_code}/{party_id} is not one of our active CPO parties"}, code="not_our_party"
        )
    return party


def _token_owner(token: Mapping[str, Any]) -> Partner | None:
    """The registered partner of the token's eMSP party (None for our own eMSP's or unknown tokens)."""
    return token_owner_partner(country_code=token["country_code"], party_id=token["party_id"])


def _apply_token(session: ChargingSession, token: Mapping[str, Any]) -> None:
    session.cdr_token = to_stored_token(token)
    session.token_country_code = token["country_code"].upper()
    session.token_party_id = token["party_id"].upper()
    session.token_uid = token["uid"]


def _clean(session: ChargingSession) -> None:
    session.full_clean(validate_unique=False, validate_constraints=False)
    if session.end_date_time is not None and session.end_date_time < session.start_date_time:
        raise ValidationError({"end_date_time": "must not be before start_date_time"})


def _spec_fields(names: list[str]) -> list[str]:
    return list(dict.fromkeys(_SPEC_NAMES.get(name, name) for name in names))


def _lock_ours(session: ChargingSession) -> ChargingSession:
    """Re-read one of our sessions under a row lock (concurrent meter updates must not lose periods)."""
    fresh = ChargingSession.objects.select_for_update().get(pk=session.pk)
    if not fresh.is_ours:
        raise ValidationError(f"Session {fresh} was received from a partner and cannot be changed here")
    return fresh


def _decimal(value: Any, field: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool | str) or not isinstance(value, int | float | Decimal):
        raise ValidationError({field: "must be a number"})
    return Decimal(str(value))


# --- Pushing our sessions (outbox) ------------------------------------------------------------------


def _push(session: ChargingSession, hint: dict[str, Any]) -> None:
    """Enqueue the delivery of one of our sessions to its token owner (same transaction as the change)."""
    if not session.is_ours or session.token_owner_partner_id is None:
        return
    from partners.outbox import outbox_enqueue

    outbox_enqueue(module=MODULE, object_id=session.pk, hint=hint)  # paced by sessions/push.py session_pace


# --- CPO role: our own sessions ---------------------------------------------------------------------


@transaction.atomic
def session_start(
    *,
    country_code: str,
    party_id: str,
    ocpi_id: str | None = None,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    cdr_token: dict[str, Any],
    auth_method: str,
    authorization_reference: str | None = None,
    start_date_time: datetime,
    currency: str,
    token_owner_partner: Partner | None = None,
    meter_id: str | None = None,
    status: str = SessionStatus.ACTIVE,
) -> ChargingSession:
    """Create a session of one of our CPO parties and PUT it to the token owner (sessions.md 1).

    `ocpi_id` None: a UUID is generated. `token_owner_partner` None: the partner that registered the token's
    eMSP party (cdr_token country_code/party_id), if any. `status` is ACTIVE, PENDING or RESERVATION.
    Raises ValidationError (not our party, bad token, duplicate id, field errors).
    """
    party = _our_cpo_party(country_code, party_id)
    if status in FINAL_STATUSES:
        raise ValidationError({"status": f"a session cannot start {status}"})
    token = _validated(CdrTokenSerializer, cdr_token, "cdr_token")
    session = ChargingSession(
        country_code=party.country_code,
        party_id=party.party_id,
        ocpi_id=ocpi_id or str(uuid.uuid4()),
        start_date_time=start_date_time,
        kwh=Decimal(0),
        auth_method=auth_method,
        authorization_reference=authorization_reference or "",
        location_id=location_id,
        evse_uid=evse_uid,
        connector_id=connector_id,
        meter_id=meter_id or "",
        currency=currency,
        charging_periods=[],
        status=status,
        last_updated=_now(),
        token_owner_partner=token_owner_partner or _token_owner(token),
    )
    _apply_token(session, token)
    _clean(session)
    if session_get(country_code=session.country_code, party_id=session.party_id, session_id=session.ocpi_id):
        raise ValidationError({"ocpi_id": f"Session {session.ocpi_id} already exists"}, code="unique")
    try:
        with transaction.atomic():
            session.save(force_insert=True)
    except IntegrityError as exc:
        raise ValidationError({"ocpi_id": f"Session {session.ocpi_id} already exists"}, code="unique") from exc
    _push(session, {"full": True})
    return session


def _add_periods(
    session: ChargingSession,
    periods: list[dict[str, Any]],
    kwh_total: Decimal | float | int | None,
    cost_excl_vat: Decimal | float | int | None,
    cost_incl_vat: Decimal | float | int | None,
) -> list[str]:
    """Append ChargingPeriods (chronological, after the last one) to a locked session of ours and set kwh (total
    so far; None keeps it) and the running cost (None keeps it). Returns the model fields changed (unsaved)."""
    stored = list(session.charging_periods or [])
    changed = []
    for period in periods:
        dims = _validated(CdrDimensionSerializer, period["dimensions"], "dimensions", many=True)
        if not dims:
            raise ValidationError({"dimensions": "a charging period needs at least one dimension"})
        if stored and period["start_date_time"] <= parse_datetime(stored[-1]["start_date_time"]):
            raise ValidationError({"start_date_time": "must be after the start of the previous charging period"})
        stored.append(to_stored_period({**period, "dimensions": dims}))
    if periods:
        session.charging_periods = stored
        changed.append("charging_periods")
    kwh = _decimal(kwh_total, "kwh_total")
    if kwh is not None and kwh != session.kwh:
        session.kwh = kwh
        changed.append("kwh")
    for field, value in (("total_cost_excl_vat", cost_excl_vat), ("total_cost_incl_vat", cost_incl_vat)):
        amount = _decimal(value, field)
        if amount is not None and amount != getattr(session, field):
            setattr(session, field, amount)
            changed.append(field)
    return changed


@transaction.atomic
def session_add_period(
    *,
    session: ChargingSession,
    start_date_time: datetime,
    dimensions: list[dict[str, Any]],
    kwh_total: Decimal | float | int,
    cost_excl_vat: Decimal | float | int | None = None,
    cost_incl_vat: Decimal | float | int | None = None,
    tariff_id: str | None = None,
) -> ChargingSession:
    """Append a ChargingPeriod to one of our sessions and set kwh (total so far) and the running cost.

    Periods are chronological: one starting before the last one is refused. Costs left None keep their
    value. The push is a PATCH carrying only the new period(s) (paced, see `_pace`).
    """
    session = _lock_ours(session)
    if session.is_final:
        raise ValidationError(f"Session {session} is {session.status}: no further changes")
    period: dict[str, Any] = {"start_date_time": start_date_time, "dimensions": dimensions}
    if tariff_id:
        period["tariff_id"] = tariff_id
    changed = _add_periods(session, [period], kwh_total, cost_excl_vat, cost_incl_vat)
    session.last_updated = _now()
    _clean(session)
    session.save(update_fields=[*changed, "last_updated"])
    _push(session, {"fields": [*_spec_fields(changed), "last_updated"]})
    return session


@transaction.atomic
def session_replace_periods(
    *,
    session: ChargingSession,
    charging_periods: list[dict[str, Any]],
    kwh_total: Decimal | float | int,
    cost_excl_vat: Decimal | float | int | None = None,
    cost_incl_vat: Decimal | float | int | None = None,
) -> ChargingSession:
    """Replace all ChargingPeriods of one of our running sessions (meter values that arrived late, out of
    order: chargepoints rebuilds the periods in timestamp order). Pushed as a full PUT: a PATCH can only
    append periods (sessions.md 3.2)."""
    session = _lock_ours(session)
    if session.is_final:
        raise ValidationError(f"Session {session} is {session.status}: no further changes")
    starts = [p["start_date_time"] for p in charging_periods]
    if any(b <= a for a, b in itertools.pairwise(starts)):
        raise ValidationError({"charging_periods": "must be in chronological order"})
    session.charging_periods = [
        to_stored_period(
            {
                "start_date_time": p["start_date_time"],
                "dimensions": _validated(CdrDimensionSerializer, p["dimensions"], "dimensions", many=True),
            }
        )
        for p in charging_periods
    ]
    session.kwh = _decimal(kwh_total, "kwh_total")  # type: ignore[assignment]
    session.total_cost_excl_vat = _decimal(cost_excl_vat, "total_cost_excl_vat")
    session.total_cost_incl_vat = _decimal(cost_incl_vat, "total_cost_incl_vat")
    session.last_updated = _now()
    _clean(session)
    session.save(
        update_fields=["charging_periods", "kwh", "total_cost_excl_vat", "total_cost_incl_vat", "last_updated"]
    )
    _push(session, {"full": True})
    return session


@transaction.atomic
def session_stop(
    *,
    session: ChargingSession,
    end_date_time: datetime,
    status: str = SessionStatus.COMPLETED,
    charging_periods: list[dict[str, Any]] | None = None,
    kwh_total: Decimal | float | int | None = None,
    cost_excl_vat: Decimal | float | int | None = None,
    cost_incl_vat: Decimal | float | int | None = None,
) -> ChargingSession:
    """End one of our sessions (COMPLETED, or INVALID: not billed). Always pushed at once (never paced).

    The last meter values may come with it: `charging_periods` appended (as session_add_period), `kwh_total` and
    the costs set (None keeps them), in the same write and the same push as the end.
    Stopping again with the same status and end time is a no-op (a repeated StopTransaction).
    """
    if status not in FINAL_STATUSES:
        raise ValidationError({"status": f"a session ends COMPLETED or INVALID, not {status}"})
    session = _lock_ours(session)
    if session.is_final:
        if session.status == status and session.end_date_time == end_date_time:
            return session
        raise ValidationError(f"Session {session} is already {session.status}")
    changed = _add_periods(session, list(charging_periods or []), kwh_total, cost_excl_vat, cost_incl_vat)
    session.end_date_time = end_date_time
    session.status = status
    session.last_updated = _now()
    _clean(session)
    session.save(update_fields=[*changed, "end_date_time", "status", "last_updated"])
    _push(session, {"fields": [*_spec_fields(changed), "end_date_time", "status", "last_updated"]})
    return session


@transaction.atomic
def session_update(*, session: ChargingSession, **changes: Any) -> ChargingSession:
    """Change fields of one of our sessions (EDITABLE_FIELDS, model names): PENDING -> ACTIVE with the new
    start_date_time, auth_method/authorization_reference changes, meter totals, staff corrections.

    Compared with the stored row (not the instance passed in, which an admin form may have changed already);
    nothing is saved or pushed when nothing changed. A final session cannot go back to a non-final status.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))} of a session")
    fresh = _lock_ours(session)
    if fresh.is_final and changes.get("status", fresh.status) not in FINAL_STATUSES:
        raise ValidationError({"status": f"Session {fresh} is {fresh.status}: it cannot become active again"})
    changed = []
    for field, value in changes.items():
        if field in _OPTIONAL_TEXT and value is None:
            value = ""
        if field in ("kwh", "total_cost_excl_vat", "total_cost_incl_vat"):
            value = _decimal(value, field)
            if field == "kwh" and value is None:
                raise ValidationError({"kwh": "is required"})
        if getattr(fresh, field) != value:
            setattr(fresh, field, value)
            changed.append(field)
    if "total_cost_incl_vat" in changed and fresh.total_cost_excl_vat is None:
        raise ValidationError({"total_cost_excl_vat": "is required when total_cost_incl_vat is given"})
    if not changed:
        return fresh
    fresh.last_updated = _now()
    _clean(fresh)
    fresh.save(update_fields=[*changed, "last_updated"])
    # An emptied optional field cannot be PATCHed away (transport.md 4.3): the push function PUTs then.
    _push(fresh, {"fields": [*_spec_fields(changed), "last_updated"]})
    return fresh


def session_set_charging_preferences(*, session: ChargingSession, preferences: Mapping[str, Any]) -> str:
    """Sender PUT charging_preferences (sessions.md 2.2): store them and answer a ChargingPreferencesResponse.

    Raises ChargingPreferencesNotSupportedError when the session's EVSE (looked up in the locations app) is
    unknown or lacks CHARGING_PREFERENCES_CAPABLE. Finished sessions answer NOT_POSSIBLE. Preferences are not
    part of the Session object: last_updated does not move and nothing is pushed. Passing them on to the
    charger (smart charging) is the charging-profiles code's business.
    """
    if not _evse_accepts_preferences(session):
        raise ChargingPreferencesNotSupportedError(f"EVSE {session.evse_uid} is not CHARGING_PREFERENCES_CAPABLE")
    if session.is_final:
        return ChargingPreferencesResponse.NOT_POSSIBLE
    data = _validated(ChargingPreferencesSerializer, dict(preferences), "charging_preferences")
    ChargingSession.objects.filter(pk=session.pk).update(charging_preferences=to_stored_preferences(data))
    session.charging_preferences = to_stored_preferences(data)
    return ChargingPreferencesResponse.ACCEPTED


def _evse_accepts_preferences(session: ChargingSession) -> bool:
    from locations.selectors import location_get  # lazy: locations is used through its selectors only

    location = location_get(
        country_code=session.country_code, party_id=session.party_id, location_id=session.location_id
    )
    if location is None:
        return False
    evse = next((e for e in location.evses.all() if e.uid.upper() == session.evse_uid.upper()), None)
    return evse is not None and "CHARGING_PREFERENCES_CAPABLE" in (evse.capabilities or [])


# --- eMSP role: sessions pushed by partner CPOs (Receiver interface) --------------------------------


def _received_fields(data: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """validated_data -> model fields. PUT: omitted optional fields revert to empty (transport.md 4.2)."""
    required = ("start_date_time", "kwh", "auth_method", "location_id", "evse_uid", "connector_id", "currency")
    fields: dict[str, Any] = {name: data[name] for name in (*required, "status", "last_updated") if name in data}
    for name in _OPTIONAL_TEXT:
        if name in data:
            fields[name] = data[name] or ""
        elif not partial:
            fields[name] = ""
    if "end_date_time" in data or not partial:
        fields["end_date_time"] = data.get("end_date_time")
    if "total_cost" in data:
        fields["total_cost_excl_vat"] = data["total_cost"]["excl_vat"]
        fields["total_cost_incl_vat"] = data["total_cost"].get("incl_vat")
    elif not partial:
        fields["total_cost_excl_vat"] = fields["total_cost_incl_vat"] = None
    return fields


def _append_periods(stored: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PATCH append (sessions.md 3.2), skipping periods already held (same start): replays append nothing."""
    starts = {p.get("start_date_time") for p in stored}
    return [*stored, *(p for p in new if p["start_date_time"] not in starts)]


def session_receive(
    *,
    partner: Partner,
    country_code: str,
    party_id: str,
    session_id: str,
    data: Mapping[str, Any],
    partial: bool,
) -> Received:
    """Receiver PUT (create or replace) or PATCH of a partner CPO's session -> Received(session, created, stale).

    `data` is SessionSerializer.validated_data. PUT replaces the whole session: its charging_periods replace
    the stored ones, and no/empty charging_periods remove them (sessions.md 3.1). PATCH changes only the
    given fields and APPENDS its charging_periods to the stored list (sessions.md 3.2: omitted or empty means
    no change; replacing periods takes a PUT); a period whose start_date_time is already stored is not added
    twice, so a replayed PATCH is harmless. A null value in a PATCH changes nothing (PATCH cannot remove
    information, transport.md 4.3). Pushes with a last_updated older than the stored one are ignored (and
    logged); an equal one is applied again (idempotent). PATCH of an unknown session, or of one another partner
    pushed, raises ChargingSession.DoesNotExist (the same answer); a push under one of our own parties, or a PUT
    over a session another partner pushed, raises SessionPartyNotAllowedError.
    The caller has checked that the partner holds (country_code, party_id) and that the body's ids match.
    """
    country_code, party_id = country_code.upper(), party_id.upper()
    receive_party_check(
        partner=partner,
        country_code=country_code,
        party_id=party_id,
        roles=None,
        error=SessionPartyNotAllowedError,
        ours="one of our own parties",
    )
    return receive_retrying(
        lambda: _session_receive(partner, country_code, party_id, session_id, data, partial),
        log=logger,
        what=f"session {country_code}/{party_id}/{session_id}",
    )


def _session_receive(
    partner: Partner, country_code: str, party_id: str, session_id: str, data: Mapping[str, Any], partial: bool
) -> Received:
    session = receive_claim(  # another platform's session (same party code under another role): not this partner's
        session_get(country_code=country_code, party_id=party_id, session_id=session_id, for_update=True),
        partner=partner,
        partial=partial,
        refusal=lambda: SessionPartyNotAllowedError(
            f"Session {country_code}/{party_id}/{session_id} cannot be written by this partner"
        ),
    )
    if session is None and partial:
        raise ChargingSession.DoesNotExist(f"Unknown session {country_code}/{party_id}/{session_id}")
    if receive_is_stale(session, last_updated=data["last_updated"], partner=partner, log=logger, name="session"):
        return Received(session, created=False, stale=True)

    created = session is None
    if session is None:
        session = ChargingSession(
            country_code=country_code,
            party_id=party_id,
            ocpi_id=data.get("ocpi_id", session_id),
            received_from=partner,
        )
    for name, value in _received_fields(data, partial=partial).items():
        setattr(session, name, value)
    if "cdr_token" in data:
        _apply_token(session, data["cdr_token"])
    new_periods = to_stored_periods(data.get("charging_periods"))
    if partial:
        session.charging_periods = _append_periods(list(session.charging_periods or []), new_periods)
    else:
        session.charging_periods = new_periods
    session.received_from = partner
    if session.end_date_time is not None and session.end_date_time < session.start_date_time:
        raise ValidationError({"end_date_time": "must not be before start_date_time"})

    if created:
        session.save(force_insert=True)
        return Received(session, created=True)
    session.save()
    return Received(session, created=False)
