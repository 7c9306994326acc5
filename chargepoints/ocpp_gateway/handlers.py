"""Synchronous ORM work of the OCPP server (run in its database thread pool, server.DbPool: several charge
points' messages at once, one at a time per charge point).

Everything a charge point reports ends in `chargepoints.events` (EVSE status, session started, meter values,
session stopped), like the simulator's events; this module only translates OCPP identifiers and values.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from chargepoints import events
from chargepoints.models import ChargePoint, ChargePointConnector, OcppMessage, OcppTransaction
from locations.services import locations_lock
from partners.models import Partner
from sessions.gateway import GatewayEventError
from sessions.models import ChargingSession
from tokens.authorization import token_authorize_at_charge_point
from tokens.models import Token

logger = logging.getLogger(__name__)

# OCPP 1.6 ChargePointStatus (7.7) and 2.0.1 ConnectorStatusEnumType -> OCPI EVSE Status (locations.md 8.4.22).
STATUS_MAP = {
    "Available": "AVAILABLE",
    "Preparing": "CHARGING",
    "Charging": "CHARGING",
    "SuspendedEV": "CHARGING",
    "SuspendedEVSE": "CHARGING",
    "Finishing": "CHARGING",
    "Occupied": "CHARGING",
    "Reserved": "RESERVED",
    "Unavailable": "INOPERATIVE",
    "Faulted": "OUTOFORDER",
}
ENERGY_REGISTER = "Energy.Active.Import.Register"
PENDING_START_SECONDS = 600  # a remote start older than this no longer explains a StartTransaction


def parse_time(value: str | None) -> datetime:
    if not value:
        return timezone.now()
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


T = TypeVar("T")
# PostgreSQL SQLSTATEs of a transaction that lost a lock conflict: deadlock_detected, serialization_failure.
LOCK_CONFLICTS = {"40P01": "deadlock", "40001": "serialization failure"}
DB_RETRIES = 2


def _lock_conflict(exc: OperationalError) -> str | None:
    return LOCK_CONFLICTS.get(getattr(exc.__cause__, "sqlstate", None) or "")


def atomic_retrying(func: Callable[[bool], T], what: str) -> T:
    """`func(first_attempt)` in one transaction; when PostgreSQL aborts it for a deadlock or a serialization
    failure it runs again (at most DB_RETRIES more times, after a short random pause) instead of the charge
    point getting a CallError. A safety net only: the lock order (every write of a location's EVSEs and sessions
    locks the location first, locations.services) is what prevents deadlocks. `first_attempt` False: re-read
    what the failed attempt may have changed in memory. Inside an outer transaction there is no retry (that
    transaction is aborted: the outermost caller decides)."""
    if connection.in_atomic_block:
        with transaction.atomic():
            return func(True)
    for attempt in range(DB_RETRIES + 1):
        try:
            with transaction.atomic():
                return func(attempt == 0)
        except OperationalError as exc:
            conflict = _lock_conflict(exc)
            if conflict is None or attempt == DB_RETRIES:
                raise
            logger.warning("%s: %s, rolled back; retrying (%d of %d)", what, conflict, attempt + 1, DB_RETRIES)
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


# --- connection ----------------------------------------------------------------------------------------


class CredentialCache:
    """Successful HTTP Basic checks, in process memory: identity -> (password_hash, HMAC of the password).

    Checking a password with the production hasher costs ~0.5 s of CPU (PBKDF2); a charge point reconnecting
    with the password that was right a moment ago is accepted on a keyed hash instead (HMAC-SHA256 with a
    random per-process key, compared in constant time). An entry is valid only while the charge point's
    password_hash is the one it was verified against (a password changed in the admin invalidates it); a
    wrong password is never stored and does not evict the right one."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._good: dict[str, tuple[str, bytes]] = {}
        self._lock = threading.Lock()

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode(), hashlib.sha256).digest()

    def hit(self, identity: str, password_hash: str, password: str) -> bool:
        entry = self._good.get(identity)
        if entry is None or not password_hash:
            return False
        if entry[0] != password_hash:  # changed since: verify again
            with self._lock:
                if self._good.get(identity) == entry:
                    del self._good[identity]
            return False
        return hmac.compare_digest(entry[1], self._digest(password))

    def verify(self, identity: str, password_hash: str, password: str) -> bool:
        """The password against the hash: from the cache, else with the hasher (a success is cached)."""
        if self.hit(identity, password_hash, password):
            return True
        if not password_hash or not check_password(password, password_hash):
            return False
        with self._lock:
            self._good[identity] = (password_hash, self._digest(password))
        return True

    def clear(self) -> None:
        with self._lock:
            self._good.clear()


credential_cache = CredentialCache()


def credentials(identity: str) -> str | None:
    """The charge point's password hash (None: unknown identity)."""
    return ChargePoint.objects.filter(identity=identity).values_list("password_hash", flat=True).first()


def authenticate(identity: str, password: str | None) -> bool:
    """Security profile 1: HTTP Basic password checked against the charge point's hash."""
    password_hash = credentials(identity)
    return (
        password_hash is not None
        and password is not None
        and credential_cache.verify(identity, password_hash, password)
    )


def mark_connected(identity: str, *, protocol: str, server_id: str, connected: bool) -> int | None:
    """Returns the charge point's pk (None: deleted since the handshake)."""
    fields: dict[str, Any] = {"connected": connected, "server_id": server_id if connected else ""}
    if connected:
        now = timezone.now()
        fields |= {"protocol": protocol, "connected_at": now, "last_seen_at": now}
    pk = ChargePoint.objects.filter(identity=identity).values_list("pk", flat=True).first()
    if pk is not None:
        ChargePoint.objects.filter(pk=pk).update(**fields)
    return pk


def release_server(server_id: str) -> int:
    """A server process starting: the charge points it held before (it, or a crashed process with the same
    server id) are no longer connected to it. Returns how many were released."""
    if not server_id:
        return 0
    return ChargePoint.objects.filter(server_id=server_id).update(connected=False, server_id="")


def seen(identity: str) -> None:
    ChargePoint.objects.filter(identity=identity).update(last_seen_at=timezone.now())


def message_row(charge_point_id: int, raw: str, direction: str, action_hint: str = "") -> OcppMessage:
    """One OCPP-J frame ([2, id, action, payload] / [3, id, payload] / [4, id, code, desc, details]) as an
    unsaved OcppMessage (no database access: built on the event loop, written in batches)."""
    try:
        frame = json.loads(raw)
        kind = {2: "CALL", 3: "CALLRESULT", 4: "CALLERROR"}[frame[0]]
        unique_id = str(frame[1])
    except (ValueError, KeyError, IndexError, TypeError):
        kind, unique_id, frame = "CALLERROR", "", [None, "", {"raw": raw[:2000]}]
    if kind == "CALL":
        action, payload = str(frame[2]), frame[3] if len(frame) > 3 else {}
    elif kind == "CALLRESULT":
        action, payload = action_hint, frame[2] if len(frame) > 2 else {}
    else:
        action, payload = action_hint, {"error": frame[2:]}
    return OcppMessage(
        charge_point_id=charge_point_id,
        direction=direction,
        message_type=kind,
        action=action[:64],
        unique_id=unique_id[:64],
        payload=payload if isinstance(payload, dict) else {"value": payload},
    )


def log_message(identity: str, raw: str, direction: str, action_hint: str = "") -> None:
    """Store one OCPP-J frame now (the server batches them instead: server.MessageLogWriter)."""
    cp_id = ChargePoint.objects.filter(identity=identity).values_list("pk", flat=True).first()
    if cp_id is not None:
        message_row(cp_id, raw, direction, action_hint).save()


def write_messages(rows: list[OcppMessage]) -> int:
    """One multi-row INSERT of log rows, in order; when the database refuses the batch (a charge point deleted
    since), every row it accepts is written one by one and the rest dropped (logged). Returns rows written."""
    try:
        OcppMessage.objects.bulk_create(rows)
        return len(rows)
    except (IntegrityError, DataError):
        pass
    written = 0
    for row in rows:
        row.pk = None
        try:
            with transaction.atomic():
                row.save(force_insert=True)
            written += 1
        except (IntegrityError, DataError):
            logger.error("OCPP message log row dropped, the database refuses it: %s", row)
    return written


# --- core messages -------------------------------------------------------------------------------------


def boot(identity: str, *, vendor: str, model: str, serial: str = "", firmware: str = "") -> None:
    ChargePoint.objects.filter(identity=identity).update(
        vendor=vendor[:50],
        model=model[:50],
        serial=(serial or "")[:50],
        firmware_version=(firmware or "")[:50],
        last_boot_at=timezone.now(),
        last_heartbeat_at=timezone.now(),
    )


def heartbeat(identity: str) -> None:
    ChargePoint.objects.filter(identity=identity).update(last_heartbeat_at=timezone.now())


def _connector(identity: str, evse_id: int, connector_id: int | None = None) -> ChargePointConnector | None:
    qs = ChargePointConnector.objects.select_related("evse__location", "connector", "charge_point").filter(
        charge_point__identity=identity, ocpp_evse_id=evse_id
    )
    if connector_id is not None:
        qs = qs.filter(ocpp_connector_id=connector_id)
    return qs.order_by("ocpp_connector_id").first()


STATION_BLOCKING = {"Unavailable": "INOPERATIVE", "Faulted": "OUTOFORDER"}


def status(identity: str, *, evse_id: int, connector_id: int | None, ocpp_status: str) -> str | None:
    """StatusNotification -> events.evse_status_changed; returns the OCPI status applied (None: ignored).

    ConnectorId 0 (1.6; evseId 0 in 2.0.1) is the whole charge point: Unavailable / Faulted there makes every
    EVSE it serves INOPERATIVE / OUTOFORDER (pushed), whatever their connectors say; any other status there
    lifts it and every EVSE gets back the last status of its own connector (AVAILABLE if it never sent one).
    A connector's own status is always remembered, and applied unless the whole charge point is blocked."""
    if evse_id == 0:
        return atomic_retrying(lambda first: _station_status(identity, ocpp_status), f"{identity} StatusNotification")
    ocpi = STATUS_MAP.get(ocpp_status)
    if ocpi is None:  # a status OCPP does not define
        return None

    def apply(first: bool) -> str | None:
        mapping = _connector(identity, evse_id, connector_id)
        if mapping is None:  # an unmapped connector
            return None
        blocked = mapping.charge_point.station_status
        if mapping.ocpp_status == ocpp_status and (blocked in STATION_BLOCKING or mapping.evse.status == ocpi):
            # Chargers repeat their status (after every boot, reconnect and transaction step): nothing changes,
            # so no location lock, no EVSE write and no push, one query.
            return None if blocked in STATION_BLOCKING else ocpi
        applied = None
        if blocked not in STATION_BLOCKING:  # the EVSE (and so its location, locked first) before anything else
            events.evse_status_changed(evse=mapping.evse, status=ocpi)
            applied = ocpi
        ChargePointConnector.objects.filter(pk=mapping.pk).update(ocpp_status=ocpp_status)
        return applied

    return atomic_retrying(apply, f"{identity} StatusNotification")


def _station_status(identity: str, ocpp_status: str) -> str | None:
    if ocpp_status not in STATUS_MAP:
        return None
    mappings = list(
        ChargePointConnector.objects.select_related("evse__location")
        .filter(charge_point__identity=identity)
        .order_by("evse_id", "ocpp_evse_id", "ocpp_connector_id")
    )
    locations_lock(m.evse.location_id for m in mappings)  # first, in pk order: locations.services lock order
    ChargePoint.objects.filter(identity=identity).update(station_status=ocpp_status)
    by_evse: dict[int, list[ChargePointConnector]] = {}
    for mapping in mappings:
        by_evse.setdefault(mapping.evse_id, []).append(mapping)
    blocking = STATION_BLOCKING.get(ocpp_status)
    with transaction.atomic():
        for group in by_evse.values():
            if blocking:
                target = blocking
            else:  # the EVSE's own connectors: busy wins over available
                own = [STATUS_MAP.get(m.ocpp_status, "AVAILABLE") for m in group]
                target = next(
                    (s for s in ("CHARGING", "RESERVED", "OUTOFORDER", "INOPERATIVE") if s in own), "AVAILABLE"
                )
            events.evse_status_changed(evse=group[0].evse, status=target)
    return blocking or "RESTORED"


@dataclass(frozen=True)
class Authorization:
    status: str  # OCPP AuthorizationStatus: Accepted, Blocked, Expired, Invalid
    token: Token | None = None
    authorization_reference: str | None = None
    owner: Any = None


def authorize(identity: str, id_tag: str, *, evse_id: int | None = None) -> Authorization:
    """Authorize / the idToken of a transaction: our tokens and partners' tokens through
    tokens.authorization.token_authorize_at_charge_point (whitelist rules, real-time authorization)."""
    token = Token.objects.filter(ocpi_id__iexact=id_tag).order_by("-last_updated").first()
    mapping = _connector(identity, evse_id) if evse_id else None
    if mapping is None:
        mapping = (
            ChargePointConnector.objects.select_related("evse__location")
            .filter(charge_point__identity=identity)
            .first()
        )
    if token is None or mapping is None:
        return Authorization("Invalid")
    decision = token_authorize_at_charge_point(
        country_code=token.country_code,
        party_id=token.party_id,
        uid=token.ocpi_id,
        type=token.type,
        location_id=mapping.evse.location.ocpi_id,
        evse_uid=mapping.evse.uid,
    )
    if decision.allowed:
        return Authorization("Accepted", decision.token or token, decision.authorization_reference, decision.owner)
    return Authorization({"BLOCKED": "Blocked", "EXPIRED": "Expired"}.get(decision.status, "Invalid"))


def _cdr_token(token: Token) -> dict[str, Any]:
    return {
        "country_code": token.country_code,
        "party_id": token.party_id,
        "uid": token.ocpi_id,
        "type": token.type,
        "contract_id": token.contract_id,
    }


def transaction_start(
    identity: str,
    *,
    evse_id: int,
    connector_id: int | None,
    id_tag: str,
    timestamp: str | None,
    meter_start_wh: int,
    transaction_id: str | None = None,
    authorization: Authorization | None = None,
) -> tuple[OcppTransaction, str]:
    """StartTransaction (1.6) / TransactionEvent Started (2.0.1): an OcppTransaction and, when the token is
    accepted, an OCPI session through events.session_started. Returns (transaction, authorization status).

    `authorization`: the accepted Authorize of this idTag the connection just answered (not asked again)."""
    mapping = _connector(identity, evse_id, connector_id)
    again = _repeated_start(identity, mapping, id_tag, parse_time(timestamp), transaction_id)
    if again is not None:  # sent again after a reconnection (the answer was lost): the same transaction
        return again, "Accepted" if again.session_id else "Invalid"
    remote = _pending_start(mapping, id_tag)
    if remote:
        auth = Authorization("Accepted")
    elif authorization is not None and authorization.status == "Accepted" and authorization.token is not None:
        auth = authorization
    else:
        auth = authorize(identity, id_tag, evse_id=evse_id)
    started_at = parse_time(timestamp)

    def record(first: bool) -> OcppTransaction:
        current = mapping if first or mapping is None else _connector(identity, evse_id, connector_id)
        if current is not None:  # the location first: locations.services lock order
            locations_lock([current.evse.location_id])
        cp = ChargePoint.objects.get(identity=identity)
        tx = OcppTransaction.objects.create(
            charge_point=cp,
            transaction_id=transaction_id or f"pending-{timezone.now().timestamp()}",
            connector=current,
            id_tag=id_tag[:36],
            started_at=started_at,
            meter_start_wh=meter_start_wh,
            last_meter_at=started_at,
        )
        if transaction_id is None:  # 1.6: the Central System chooses an integer transactionId
            tx.transaction_id = str(tx.pk)
        if remote is not None and current is not None:  # our START_SESSION (commands.md 6.3): COMMAND
            owner_id = remote.get("token_owner_partner_id")
            tx.session = events.session_started(
                evse=current.evse,
                connector_id=current.connector.ocpi_id if current.connector else None,
                cdr_token=remote["cdr_token"],
                auth_method="COMMAND",
                started_at=started_at,
                authorization_reference=remote.get("authorization_reference"),
                token_owner_partner=Partner.objects.filter(pk=owner_id).first() if owner_id else None,
            )
            ChargePointConnector.objects.filter(pk=current.pk).update(pending_start=None)
        elif auth.status == "Accepted" and current is not None and auth.token is not None:
            tx.session = events.session_started(
                evse=current.evse,
                connector_id=current.connector.ocpi_id if current.connector else None,
                cdr_token=_cdr_token(auth.token),
                auth_method="AUTH_REQUEST" if auth.authorization_reference else "WHITELIST",
                started_at=started_at,
                authorization_reference=auth.authorization_reference,
                token_owner_partner=auth.owner,
            )
        tx.save()
        return tx

    return atomic_retrying(record, f"{identity} StartTransaction"), auth.status


def _repeated_start(
    identity: str,
    mapping: ChargePointConnector | None,
    id_tag: str,
    started_at: datetime,
    transaction_id: str | None,
) -> OcppTransaction | None:
    """The transaction a repeated start names: 2.0.1 by its transactionId, 1.6 (the charge point has no id
    yet) by connector, idTag and start time."""
    qs = OcppTransaction.objects.filter(charge_point__identity=identity)
    if transaction_id is not None:
        return qs.filter(transaction_id=transaction_id).first()
    return qs.filter(connector=mapping, id_tag=id_tag[:36], started_at=started_at).first()


def _pending_start(mapping: ChargePointConnector | None, id_tag: str) -> dict[str, Any] | None:
    """The remote start (OcppGateway.start_session) this StartTransaction answers: same token, sent within
    PENDING_START_SECONDS."""
    pending = mapping.pending_start if mapping is not None else None
    if not pending or str(pending["cdr_token"].get("uid", "")).upper() != id_tag.upper():
        return None
    sent_at = parse_time(pending.get("sent_at"))
    return pending if (timezone.now() - sent_at).total_seconds() <= PENDING_START_SECONDS else None


def _find(identity: str, transaction_id: str) -> OcppTransaction | None:
    return (
        OcppTransaction.objects.select_related("session")
        .filter(charge_point__identity=identity, transaction_id=str(transaction_id))
        .first()
    )


def meter_readings(meter_values: list[dict[str, Any]]) -> list[tuple[datetime, int]]:
    """Every Energy.Active.Import.Register reading (Wh) of OCPP MeterValue objects (snake_case keys): one per
    MeterValue (its last such sampled value), in timestamp order."""
    found: dict[datetime, int] = {}
    for mv in meter_values or []:
        for sv in mv.get("sampled_value", []):
            measurand = sv.get("measurand", ENERGY_REGISTER)
            if measurand != ENERGY_REGISTER or sv.get("phase"):
                continue
            unit = sv.get("unit") or (sv.get("unit_of_measure") or {}).get("unit", "Wh")
            value = Decimal(str(sv["value"])) * (1000 if unit == "kWh" else 1)
            found[parse_time(mv.get("timestamp"))] = int(value)
    return sorted(found.items())


def energy_wh(meter_values: list[dict[str, Any]]) -> tuple[datetime, int] | None:
    """The last Energy.Active.Import.Register reading (Wh) of OCPP MeterValue objects."""
    readings = meter_readings(meter_values)
    return readings[-1] if readings else None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat()


def transaction_meter(
    identity: str, transaction_id: str, readings: list[tuple[datetime, int]] | tuple[datetime, int] | None
) -> bool:
    """Meter values of a transaction -> events.meter_values, one ChargingPeriod per interval between readings.

    Readings are kept on the OcppTransaction. Newer than the last one applied: appended. Older (a charge point
    sending what it queued while offline after newer values, or after a reconnection to another server
    process): the session's periods are rebuilt from all readings in timestamp order
    (events.meter_values_replayed). A repeated reading (same timestamp) is ignored. Returns whether anything
    was applied."""
    if readings is None:
        return False
    batch = [readings] if isinstance(readings, tuple) else list(readings)
    return atomic_retrying(lambda first: _apply_meter(identity, transaction_id, batch), f"{identity} MeterValues")


def _apply_meter(identity: str, transaction_id: str, batch: list[tuple[datetime, int]]) -> bool:
    with transaction.atomic():
        tx = (
            OcppTransaction.objects.select_for_update()
            .filter(charge_point__identity=identity, transaction_id=str(transaction_id))
            .first()
        )
        if tx is None or tx.session_id is None:
            return False
        session = ChargingSession.objects.get(pk=tx.session_id)
        known = dict(tx.readings or [])
        new = sorted((at, wh) for at, wh in batch if at > tx.started_at and _iso(at) not in known)
        if not new:
            return False
        if session.is_final:
            logger.warning(
                "Charge point %s transaction %s: %d meter values after the session ended ignored",
                identity,
                transaction_id,
                len(new),
            )
            return False
        last = tx.last_meter_at or tx.started_at
        known.update((_iso(at), wh) for at, wh in new)
        try:
            with transaction.atomic():
                if new[0][0] > last:
                    for at, wh in new:
                        session = events.meter_values(
                            session=session,
                            period_start=last,
                            period_end=at,
                            kwh_total=Decimal(max(wh - tx.meter_start_wh, 0)) / 1000,
                        )
                        last = at
                else:
                    ordered = sorted((parse_time(at), wh) for at, wh in known.items())
                    events.meter_values_replayed(
                        session=session,
                        started_at=tx.started_at,
                        readings=[(at, Decimal(max(wh - tx.meter_start_wh, 0)) / 1000) for at, wh in ordered],
                    )
                    last = ordered[-1][0]
        except (GatewayEventError, ValidationError) as exc:
            logger.warning("Charge point %s transaction %s: meter values ignored (%s)", identity, transaction_id, exc)
            return False
        tx.readings = sorted([at, wh] for at, wh in known.items())
        tx.last_meter_at = last
        tx.save(update_fields=["readings", "last_meter_at"])
    return True


def transaction_stop(
    identity: str,
    transaction_id: str,
    *,
    timestamp: str | None,
    meter_stop_wh: int | None,
    readings: list[tuple[datetime, int]] | None = None,
) -> OcppTransaction | None:
    """StopTransaction (1.6, with its transactionData) / TransactionEvent Ended (2.0.1): the last readings and
    the stop in one session write and one push (events.session_stopped), then the EVSE AVAILABLE
    (events.evse_released), then the CDR; each step its own transaction, retried on a deadlock.

    Readings newer than the last one applied go into the stop's own write (events.session_stopped(readings=...));
    older ones (queued while offline) rebuild the periods first (transaction_meter), as MeterValues would."""
    tx = _find(identity, transaction_id)
    if tx is None or tx.stopped_at is not None:
        return tx
    stopped_at = parse_time(timestamp)
    final = list(readings or [])
    if meter_stop_wh is not None:
        final.append((stopped_at, meter_stop_wh))

    def stop(first: bool) -> OcppTransaction | None:
        locked = (
            OcppTransaction.objects.select_for_update(of=("self",)).select_related("session").filter(pk=tx.pk).first()
        )
        if locked is None or locked.stopped_at is not None:
            return locked
        if locked.session is not None and not locked.session.is_final:
            _stop_session(identity, locked, stopped_at, final)
        elif final:
            _apply_meter(identity, transaction_id, final)  # only remembered on the transaction
            locked.refresh_from_db(fields=["readings", "last_meter_at"])
        locked.stopped_at = stopped_at
        OcppTransaction.objects.filter(pk=locked.pk).update(
            stopped_at=stopped_at, readings=locked.readings, last_meter_at=locked.last_meter_at
        )
        return locked

    # Three transactions, as events.session_stopped: the transaction and its session (no location lock held while
    # pricing), the EVSE (the location locked first, briefly), the CDR.
    stopped = atomic_retrying(stop, f"{identity} StopTransaction")
    if stopped is not None and stopped.session is not None and stopped.session.is_final:
        session = stopped.session
        atomic_retrying(lambda first: events.evse_released(session), f"{identity} StopTransaction EVSE")
        atomic_retrying(lambda first: events.session_cdr(session), f"{identity} StopTransaction CDR")
    return stopped


def _stop_session(identity: str, tx: OcppTransaction, stopped_at: datetime, final: list[tuple[datetime, int]]) -> None:
    """The session of a locked transaction stopped with its final readings (tx's readings updated in memory)."""
    session = tx.session
    assert session is not None
    known = dict(tx.readings or [])
    last = tx.last_meter_at or tx.started_at
    new = sorted((at, wh) for at, wh in final if at > tx.started_at and _iso(at) not in known)
    if new and new[0][0] <= last:  # older than what was applied: rebuild the periods in order first
        _apply_meter(identity, tx.transaction_id, new)
        tx.refresh_from_db(fields=["readings", "last_meter_at"])
        session = ChargingSession.objects.get(pk=session.pk)
        new = []
    kwh = [(at, Decimal(max(wh - tx.meter_start_wh, 0)) / 1000) for at, wh in new]
    try:
        with transaction.atomic():
            tx.session, _ = events.session_stopped(
                session=session,
                stopped_at=stopped_at,
                create_cdr=False,
                release_evse=False,
                readings=kwh,
                readings_since=last,
            )
    except (GatewayEventError, ValidationError) as exc:  # e.g. a meter that went backwards: stop without them
        logger.warning(
            "Charge point %s transaction %s: final meter values ignored (%s)", identity, tx.transaction_id, exc
        )
        new = []
        tx.session, _ = events.session_stopped(
            session=session, stopped_at=stopped_at, create_cdr=False, release_evse=False
        )
    if new:
        known.update((_iso(at), wh) for at, wh in new)
        tx.readings = sorted([at, wh] for at, wh in known.items())
        tx.last_meter_at = new[-1][0]
