"""Every write of Locations, EVSEs and Connectors.

Inputs are dicts keyed by *model field names*: `LocationSerializer(...).validated_data` (and the EVSE/
Connector equivalents) or an admin form's cleaned_data. Nested `evses` / `connectors` lists are optional.

`last_updated` (locations.md 4): on rows of our own CPO parties it is set to now on every object that really
changed, and a changed EVSE or Connector also moves its EVSE's and Location's `last_updated`. On rows of
partner parties (eMSP Receiver) the `last_updated` sent by the partner is stored, and a PUT/PATCH of an
EVSE or Connector gives its parents that same value (locations.md 3.2, 3.3).

Every change to one of our rows enqueues a push with `_push()` in the same transaction, which also rebuilds the
location's stored 2.2.1 Sender document (locations/documents.py).

Lock order (issue 16, PostgreSQL deadlocks of the OCPP server): every write of an existing Location or of one of
its EVSEs or Connectors first locks the Location row (`location_lock`, SELECT ... FOR UPDATE), before any other
row: the EVSE, the Sender document, the location's outbox row. Concurrent writes to EVSEs of one location (status
changes, sessions starting and stopping) then queue on that one row instead of taking the EVSE, the document and
the location in different orders. Callers that change sessions or other rows of a location in the same
transaction (chargepoints.events) take the location lock first too; several locations are locked in pk order
(`locations_lock`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from partners.models import Partner, Role
from partners.receiving import (
    Received,
    ReceiveNotAllowedError,
    ReceiveObjectNotAllowedError,
    receive_claim,
    receive_is_stale,
    receive_party_check,
    receive_retrying,
)

from .constants import EVSEStatus
from .documents import location_document_patch_status, location_document_refresh, location_documents_invalidate
from .models import EVSE, Connector, Location
from .selectors import party_is_ours

logger = logging.getLogger(__name__)

_KEYS = {"id", "location", "evse", "country_code", "party_id", "ocpi_id", "uid", "last_updated", "received_from"}
LOCATION_FIELDS = tuple(f.name for f in Location._meta.concrete_fields if f.name not in _KEYS)
EVSE_FIELDS = tuple(f.name for f in EVSE._meta.concrete_fields if f.name not in _KEYS)
CONNECTOR_FIELDS = tuple(f.name for f in Connector._meta.concrete_fields if f.name not in _KEYS)
# Model field -> OCPI field, for push hints.
_SPEC_NAMES = {"ocpi_id": "id", "latitude": "coordinates", "longitude": "coordinates"}


def _push(location: Location, hint: dict[str, Any]) -> None:
    """Enqueue a push of `location` to the partners (outbox), inside the caller's transaction."""
    from partners.outbox import outbox_enqueue  # looked up per call: tests replace it

    location_document_refresh(location)  # the Sender's ready JSON, in the same transaction as the push
    outbox_enqueue(module="locations", object_id=location.pk, hint=hint)


def locations_lock(location_ids: Iterable[int]) -> None:
    """Lock these Location rows (SELECT ... FOR UPDATE, in pk order) until the end of the caller's transaction:
    the first lock of every write that touches a location, its EVSEs, connectors or sessions (see the module
    docstring). Inside transaction.atomic only."""
    ids = sorted(set(location_ids))
    if ids:
        list(Location.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))


def location_lock(location: Location) -> Location:
    """Lock one location's row (see locations_lock) and refresh its last_updated from it (a concurrent write may
    have moved it since `location` was read). Returns `location`."""
    stamp = Location.objects.select_for_update().filter(pk=location.pk).values_list("last_updated", flat=True).first()
    if stamp is not None:
        location.last_updated = stamp
    return location


def _spec_fields(names: list[str]) -> list[str]:
    return list(dict.fromkeys(_SPEC_NAMES.get(name, name) for name in names))


def _apply(obj: models.Model, data: dict[str, Any], fields: tuple[str, ...], *, replace: bool) -> list[str]:
    """Copy `data` onto `obj`; with `replace`, fields missing from data revert to their default (PUT)."""
    changed = []
    for name in fields:
        if name not in data and not replace:
            continue
        value = data.get(name)
        field = cast(models.Field, obj._meta.get_field(name))
        if value is None and not field.null:
            value = field.get_default()
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    return changed


def _stamp(ours: bool, data: dict[str, Any], now: datetime | None = None) -> datetime:
    """The last_updated to store: the partner's for received rows, else `now` (one moment for a whole write,
    so that a new Location is never older than the EVSEs and connectors created with it)."""
    if ours or not data.get("last_updated"):
        return now or timezone.now()
    return data["last_updated"]


def _clean(obj: models.Model, exclude: tuple[str, ...] = ()) -> None:
    obj.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)


# --- Connectors ---------------------------------------------------------------------------------


def _connector_write(
    evse: EVSE,
    data: dict[str, Any],
    *,
    ours: bool,
    connector: Connector | None,
    replace: bool,
    now: datetime | None = None,
) -> tuple[Connector, list[str]]:
    created = connector is None
    if connector is None:
        connector = Connector(evse=evse, ocpi_id=data["ocpi_id"])
    changed = _apply(connector, data, CONNECTOR_FIELDS, replace=replace)
    if not ours and data.get("last_updated") and data["last_updated"] != connector.last_updated:
        changed.append("last_updated")
    if created or changed:
        connector.last_updated = _stamp(ours, data, now)
        _clean(connector, exclude=("evse",))
        connector.save()
    return connector, (["*"] if created else changed)


def _connectors_replace(
    evse: EVSE, items: list[dict[str, Any]], *, ours: bool, created: bool, now: datetime | None = None
) -> bool:
    """Make the EVSE's connectors exactly `items` (connectors have no REMOVED status: absent ones go)."""
    existing = {} if created else {c.ocpi_id.upper(): c for c in evse.connectors.all()}
    changed = False
    for item in items:
        _, fields = _connector_write(
            evse, item, ours=ours, connector=existing.pop(item["ocpi_id"].upper(), None), replace=True, now=now
        )
        changed = changed or bool(fields)
    if existing:
        Connector.objects.filter(pk__in=[c.pk for c in existing.values()]).delete()
        changed = True
    return changed


# --- EVSEs --------------------------------------------------------------------------------------


def _evse_write(
    location: Location,
    data: dict[str, Any],
    *,
    ours: bool,
    evse: EVSE | None,
    replace: bool,
    now: datetime | None = None,
) -> tuple[EVSE, list[str]]:
    created = evse is None
    if evse is None:
        other = EVSE.objects.filter(
            country_code=location.country_code, party_id=location.party_id, uid__iexact=data["uid"]
        ).first()
        if other is not None:
            if other.location_id != location.pk:
                # Name the other location to our staff only: a partner's may be another partner's object.
                where = f"location {other.location.ocpi_id}" if ours else "another location"
                raise ValidationError({"uid": f"EVSE uid {data['uid']} already belongs to {where}"})
            evse, created = other, False
        else:
            evse = EVSE(
                location=location, country_code=location.country_code, party_id=location.party_id, uid=data["uid"]
            )
    changed = _apply(evse, data, EVSE_FIELDS, replace=replace)
    if not ours and data.get("last_updated") and data["last_updated"] != evse.last_updated:
        changed.append("last_updated")
    now = now or timezone.now()
    stamp = _stamp(ours, data, now)
    if created:
        evse.last_updated = stamp
        _clean(evse, exclude=("location",))
        evse.save()
    connectors_changed = False
    if data.get("connectors") is not None:
        connectors_changed = _connectors_replace(evse, data["connectors"], ours=ours, created=created, now=now)
        if connectors_changed:
            changed.append("connectors")
    if not created and changed:
        evse.last_updated = stamp
        _clean(evse, exclude=("location",))
        evse.save()
    return evse, (["*"] if created else changed)


def _touch(obj: Location | EVSE, stamp: datetime) -> None:
    """Move a parent's last_updated (spec: a child's change is a change of its parents).

    Never backwards: a partner's EVSE/connector may carry an older last_updated than its Location, which
    already reflects a later change (locations.md 4.1: "last change of the Location or any of its EVSEs").
    """
    if obj.last_updated is not None and stamp < obj.last_updated:
        return
    obj.last_updated = stamp
    type(obj).objects.filter(pk=obj.pk).update(last_updated=stamp)


# --- Locations ----------------------------------------------------------------------------------


@transaction.atomic
def location_put(*, data: dict[str, Any]) -> tuple[Location, bool]:
    """Create or replace a Location (PUT semantics: omitted optional fields revert to their default).

    With an `evses` list the EVSEs become exactly that list: new ones are created, listed ones replaced,
    unlisted ones are set to REMOVED (EVSEs are never deleted). Without `evses` the EVSEs are untouched.
    Returns (location, created).
    """
    country_code, party_id = data["country_code"].upper(), data["party_id"].upper()
    ours = party_is_ours(country_code=country_code, party_id=party_id)
    location = (
        Location.objects.select_for_update()
        .filter(country_code=country_code, party_id=party_id, ocpi_id__iexact=data["ocpi_id"])
        .order_by("pk")
        .first()
    )
    created = location is None
    if location is None:
        location = Location(country_code=country_code, party_id=party_id, ocpi_id=data["ocpi_id"])
    changed = _apply(location, data, LOCATION_FIELDS, replace=True)
    if not ours and data.get("last_updated") and data["last_updated"] != location.last_updated:
        changed.append("last_updated")
    now = timezone.now()
    stamp = _stamp(ours, data, now)
    if created:
        location.last_updated = stamp
        _clean(location)
        location.save()
    if data.get("evses") is not None and _evses_replace(
        location, data["evses"], ours=ours, created=created, stamp=stamp, now=now
    ):
        changed.append("evses")
    if not created and changed:
        location.last_updated = stamp
        _clean(location)
        location.save()
    if ours and (created or changed):
        _push(location, {"full": True})
    return location, created


def _evses_replace(
    location: Location,
    items: list[dict[str, Any]],
    *,
    ours: bool,
    created: bool,
    stamp: datetime,
    now: datetime | None = None,
) -> bool:
    existing = {} if created else {e.uid.upper(): e for e in location.evses.all()}
    changed = False
    for item in items:
        _, fields = _evse_write(
            location, item, ours=ours, evse=existing.pop(item["uid"].upper(), None), replace=True, now=now
        )
        changed = changed or bool(fields)
    for evse in existing.values():
        if evse.status != EVSEStatus.REMOVED:
            evse.status = EVSEStatus.REMOVED
            evse.last_updated = stamp
            evse.save(update_fields=["status", "last_updated"])
            changed = True
    return changed


def location_create(*, data: dict[str, Any]) -> Location:
    """A new Location (with optional nested evses/connectors); ValidationError if the id exists."""
    exists = Location.objects.filter(
        country_code=data["country_code"].upper(), party_id=data["party_id"].upper(), ocpi_id__iexact=data["ocpi_id"]
    ).exists()
    if exists:
        raise ValidationError({"ocpi_id": f"Location {data['ocpi_id']} already exists for this party"})
    location, _ = location_put(data=data)
    return location


@transaction.atomic
def location_update(*, location: Location, data: dict[str, Any]) -> Location:
    """PATCH semantics: only the keys present in `data` change. An `evses` list replaces the EVSE list."""
    location_lock(location)
    ours = party_is_ours(country_code=location.country_code, party_id=location.party_id)
    changed = _apply(location, data, LOCATION_FIELDS, replace=False)
    if not ours and data.get("last_updated") and data["last_updated"] != location.last_updated:
        changed.append("last_updated")
    now = timezone.now()
    stamp = _stamp(ours, data, now)
    if data.get("evses") is not None and _evses_replace(
        location, data["evses"], ours=ours, created=False, stamp=stamp, now=now
    ):
        changed.append("evses")
    if changed:
        location.last_updated = stamp
        _clean(location)
        location.save()
        if ours:
            hint: dict[str, Any] = {"full": True} if "evses" in changed else {"fields": _spec_fields(changed)}
            _push(location, hint)
    return location


def location_publish(*, location: Location, publish: bool = True) -> Location:
    """Publish (or withdraw) a location; unpublishing also clears nothing else (publish_allowed_to stays)."""
    data: dict[str, Any] = {"publish": publish}
    if publish:
        data["publish_allowed_to"] = []  # only allowed with publish=false (locations.md 4.1)
    return location_update(location=location, data=data)


@transaction.atomic
def location_push_now(*, location: Location) -> None:
    """Staff asked to resend a location to every partner: enqueue a full push, change nothing."""
    location_lock(location)
    if party_is_ours(country_code=location.country_code, party_id=location.party_id):
        _push(location, {"full": True})


# --- EVSE and Connector entry points --------------------------------------------------------------


@transaction.atomic
def evse_put(*, location: Location, data: dict[str, Any]) -> tuple[EVSE, bool]:
    """Create or replace one EVSE of `location` (and its connectors when `connectors` is given)."""
    location_lock(location)
    ours = party_is_ours(country_code=location.country_code, party_id=location.party_id)
    existing = location.evses.filter(uid__iexact=data["uid"]).first()
    evse, changed = _evse_write(location, data, ours=ours, evse=existing, replace=True)
    if changed:
        _touch(location, evse.last_updated)
        if ours:
            _push(location, {"evse_uid": evse.uid, "full": True})
    return evse, existing is None


@transaction.atomic
def evse_update(*, evse: EVSE, data: dict[str, Any]) -> EVSE:
    """PATCH an EVSE: only the keys present change; a `connectors` list replaces the connectors."""
    location = location_lock(evse.location)
    ours = party_is_ours(country_code=location.country_code, party_id=location.party_id)
    if ours and "status" in data and set(data) <= {"status", "last_updated"}:
        return _evse_status_write(location, evse, data["status"])  # (ours: last_updated is always now)
    evse, changed = _evse_write(location, data, ours=ours, evse=evse, replace=False)
    if changed:
        _touch(location, evse.last_updated)
        if ours:
            hint: dict[str, Any] = {"evse_uid": evse.uid}
            if "connectors" in changed:
                hint["full"] = True
            else:
                hint["fields"] = _spec_fields([name for name in changed if name != "last_updated"])
            _push(location, hint)
    return evse


def _evse_status_write(location: Location, evse: EVSE, status: str) -> EVSE:
    """A status-only change of one of our EVSEs, the most frequent write (OCPP StatusNotification, sessions):
    what evse_update does for it (EVSE and location last_updated now, a push of the status field), with the
    EVSE's two columns updated instead of the whole row saved and the stored document patched in place
    (location_document_patch_status) instead of rebuilt. Inside evse_update's transaction and location lock."""
    from partners.outbox import outbox_enqueue  # looked up per call: tests replace it

    if status not in EVSEStatus.values:
        raise ValidationError({"status": f"{status} is not an EVSE status"})
    if evse.status == status:
        return evse
    previous = location.last_updated
    evse.status = status
    evse.last_updated = timezone.now()
    # A queryset update sends no post_save: the document is patched below instead of invalidated.
    EVSE.objects.filter(pk=evse.pk).update(status=status, last_updated=evse.last_updated)
    _touch(location, evse.last_updated)
    location_document_patch_status(location, evse, previous)
    outbox_enqueue(module="locations", object_id=location.pk, hint={"evse_uid": evse.uid, "fields": ["status"]})
    return evse


def evse_set_status(*, evse: EVSE, status: str, last_updated: datetime | None = None) -> EVSE:
    """The most frequent change: a new EVSE status (no-op when unchanged)."""
    if status not in EVSEStatus.values:
        raise ValidationError({"status": f"{status} is not an EVSE status"})
    data: dict[str, Any] = {"status": status}
    if last_updated is not None:
        data["last_updated"] = last_updated
    return evse_update(evse=evse, data=data)


@transaction.atomic
def connector_put(*, evse: EVSE, data: dict[str, Any]) -> tuple[Connector, bool]:
    """Create or replace one connector of `evse`."""
    location = location_lock(evse.location)
    ours = party_is_ours(country_code=location.country_code, party_id=location.party_id)
    existing = evse.connectors.filter(ocpi_id__iexact=data["ocpi_id"]).first()
    connector, changed = _connector_write(evse, data, ours=ours, connector=existing, replace=True)
    if changed:
        _touch(evse, connector.last_updated)
        _touch(location, connector.last_updated)
        if ours:
            _push(location, {"evse_uid": evse.uid, "connector_id": connector.ocpi_id, "full": True})
    return connector, existing is None


@transaction.atomic
def connector_update(*, connector: Connector, data: dict[str, Any]) -> Connector:
    """PATCH a connector (e.g. tariff_ids); parents' last_updated follow."""
    evse = connector.evse
    location = location_lock(evse.location)
    ours = party_is_ours(country_code=location.country_code, party_id=location.party_id)
    connector, changed = _connector_write(evse, data, ours=ours, connector=connector, replace=False)
    if changed:
        _touch(evse, connector.last_updated)
        _touch(location, connector.last_updated)
        if ours:
            fields = _spec_fields([name for name in changed if name != "last_updated"])
            _push(location, {"evse_uid": evse.uid, "connector_id": connector.ocpi_id, "fields": fields})
    return connector


# --- eMSP role: Locations received from partner CPOs (Receiver interface and pull) -------------------
#
# Stored under the sending CPO's party with the partner recorded in Location.received_from; the partner's
# last_updated is kept (see the module docstring). A push older than what we hold is ignored and logged
# (replays and out-of-order deliveries are harmless); an equal one is applied again (idempotent).


# A Location belongs to a CPO; a National Access Point republishes the locations it holds (README "Partner roles").
LOCATION_OWNER_ROLES = (Role.CPO, Role.NAP)


class ReceivedNotAllowedError(ReceiveNotAllowedError):
    """The partner may not write or read this object: a party of this platform, a party the partner did not
    register, or an object another partner sent (ReceivedObjectNotAllowedError)."""


class ReceivedObjectNotAllowedError(ReceivedNotAllowedError, ReceiveObjectNotAllowedError):
    """The object exists under the partner's party but another partner sent it. Reads, PATCHes and sub-object
    writes treat it as unknown; a full PUT (which would create an unknown one) is refused with this error. Its
    message names only what the caller addressed, never the stored object or the other partner."""


def received_party_check(*, partner: Partner, country_code: str, party_id: str) -> None:
    """A partner writes only under a party it registered as CPO (or NAP), never under one hosted by this platform."""
    receive_party_check(
        partner=partner,
        country_code=country_code,
        party_id=party_id,
        roles=LOCATION_OWNER_ROLES,
        error=ReceivedNotAllowedError,
    )


def location_get_received(
    *, partner: Partner, country_code: str, party_id: str, location_id: str, for_update: bool = False
) -> Location | None:
    """A location of a partner party as this partner sent it (None if unknown); another partner's: refused
    (ReceivedObjectNotAllowedError)."""
    received_party_check(partner=partner, country_code=country_code, party_id=party_id)
    queryset = Location.objects.for_party(country_code, party_id).filter(ocpi_id__iexact=location_id)
    if for_update:
        queryset = queryset.select_for_update()
    location = queryset.prefetch_related("evses__connectors").order_by("pk").first()
    return receive_claim(
        location,
        partner=partner,
        partial=False,
        unclaimed_is_free=True,
        refusal=lambda: ReceivedObjectNotAllowedError(
            f"Location {country_code.upper()}/{party_id.upper()}/{location_id} cannot be written by this partner"
        ),
    )


def _location_get_own(
    *, partner: Partner, country_code: str, party_id: str, location_id: str, for_update: bool = False
) -> Location | None:
    """As location_get_received, but another partner's location is None (unknown to this partner)."""
    try:
        return location_get_received(
            partner=partner,
            country_code=country_code,
            party_id=party_id,
            location_id=location_id,
            for_update=for_update,
        )
    except ReceivedObjectNotAllowedError:
        return None


def _stale(obj: Any, data: dict[str, Any], partner: Partner) -> bool:
    return receive_is_stale(obj, last_updated=data["last_updated"], partner=partner, log=logger)


def _mark_received(location: Location, partner: Partner) -> None:
    if location.received_from_id != partner.pk:
        location.received_from = partner
        Location.objects.filter(pk=location.pk).update(received_from=partner)


def location_receive(
    *, partner: Partner, country_code: str, party_id: str, location_id: str, data: dict[str, Any], partial: bool
) -> Received:
    """Receiver PUT (create/replace, also used by pull) or PATCH of a partner CPO's Location (locations.md 3).

    `data` is LocationSerializer(partial=partial).validated_data; the caller checked that the body's ids equal
    the URL's. PATCH of an unknown location raises Location.DoesNotExist. ReceivedNotAllowedError for a
    party of ours / not the partner's / an object of another partner; ValidationError for invalid content.
    """
    country_code, party_id = country_code.upper(), party_id.upper()
    return receive_retrying(  # a concurrent PUT created it first: this one becomes a replace (or is stale)
        lambda: _location_receive(partner, country_code, party_id, location_id, data, partial),
        log=logger,
        what=f"location {country_code}/{party_id}/{location_id}",
    )


def _location_receive(
    partner: Partner, country_code: str, party_id: str, location_id: str, data: dict[str, Any], partial: bool
) -> Received:
    get = _location_get_own if partial else location_get_received  # PATCH: another partner's is unknown
    location = get(
        partner=partner, country_code=country_code, party_id=party_id, location_id=location_id, for_update=True
    )
    if location is None and partial:
        raise Location.DoesNotExist(f"Unknown location {country_code}/{party_id}/{location_id}")
    if _stale(location, data, partner):
        return Received(location, created=False, stale=True)
    if partial and location is not None:  # (a PATCH of an unknown one raised above)
        location, created = location_update(location=location, data=data), False
    else:
        body = {**data, "country_code": country_code, "party_id": party_id, "ocpi_id": data.get("ocpi_id", location_id)}
        location, created = location_put(data=body)
    _mark_received(location, partner)
    return Received(location, created=created)


@transaction.atomic
def evse_receive(
    *,
    partner: Partner,
    country_code: str,
    party_id: str,
    location_id: str,
    evse_uid: str,
    data: dict[str, Any],
    partial: bool,
) -> Received:
    """Receiver PUT/PATCH of one EVSE; unknown location (or PATCH of an unknown EVSE) -> DoesNotExist."""
    location = _location_get_own(
        partner=partner, country_code=country_code, party_id=party_id, location_id=location_id, for_update=True
    )
    if location is None:  # unknown, or another partner's: the same answer
        raise Location.DoesNotExist(
            f"Unknown location {country_code.upper()}/{party_id.upper()}/{location_id}; PUT it first"
        )
    evse = location.evses.filter(uid__iexact=evse_uid).first()
    if evse is None and partial:
        raise EVSE.DoesNotExist(f"Unknown EVSE {evse_uid} at location {location_id}")
    if _stale(evse, data, partner):
        return Received(evse, created=False, stale=True)
    if partial and evse is not None:
        evse, created = evse_update(evse=evse, data=data), False
    else:
        evse, created = evse_put(location=location, data={**data, "uid": data.get("uid", evse_uid)})
    _mark_received(location, partner)
    return Received(evse, created=created)


@transaction.atomic
def connector_receive(
    *,
    partner: Partner,
    country_code: str,
    party_id: str,
    location_id: str,
    evse_uid: str,
    connector_id: str,
    data: dict[str, Any],
    partial: bool,
) -> Received:
    """Receiver PUT/PATCH of one connector; unknown location/EVSE (or PATCH of an unknown one) -> DoesNotExist."""
    location = _location_get_own(
        partner=partner, country_code=country_code, party_id=party_id, location_id=location_id, for_update=True
    )
    if location is None:  # unknown, or another partner's: the same answer
        raise Location.DoesNotExist(
            f"Unknown location {country_code.upper()}/{party_id.upper()}/{location_id}; PUT it first"
        )
    evse = location.evses.filter(uid__iexact=evse_uid).first()
    if evse is None:
        raise EVSE.DoesNotExist(f"Unknown EVSE {evse_uid} at location {location_id}; PUT it first")
    connector = evse.connectors.filter(ocpi_id__iexact=connector_id).first()
    if connector is None and partial:
        raise Connector.DoesNotExist(f"Unknown connector {connector_id} at EVSE {evse_uid}")
    if _stale(connector, data, partner):
        return Received(connector, created=False, stale=True)
    if partial and connector is not None:
        connector, created = connector_update(connector=connector, data=data), False
    else:
        connector, created = connector_put(evse=evse, data={**data, "ocpi_id": data.get("ocpi_id", connector_id)})
    _mark_received(location, partner)
    return Received(connector, created=created)


@transaction.atomic
def location_expire_received(*, location: Location) -> int:
    """A partner location missing from a complete (unfiltered) pull is no longer valid (transport.md 7.3):
    its EVSEs become REMOVED (EVSEs are never deleted). last_updated is left as the CPO sent it, so a later
    push of the same or a newer state is applied. Returns the number of EVSEs changed."""
    if party_is_ours(country_code=location.country_code, party_id=location.party_id):
        raise ReceivedNotAllowedError(f"Location {location} belongs to one of our parties")
    location_lock(location)
    location_documents_invalidate([location.pk])  # a queryset update: no signal
    return location.evses.exclude(status=EVSEStatus.REMOVED).update(status=EVSEStatus.REMOVED)
