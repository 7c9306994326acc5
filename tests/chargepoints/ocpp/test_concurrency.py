"""Many charge points of one location at once (issue 16, N=500 benchmark): the OCPP server's database threads
run StatusNotification, StartTransaction, MeterValues and StopTransaction of EVSEs of the same location
concurrently. Each of them changes its EVSE, and with it the location (last_updated, the stored Sender document,
the outbox row of the location): they must queue on the location instead of deadlocking, and leave every
session, CDR and the location right. Also: what one StopTransaction costs in queries."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cdrs.models import Cdr
from chargepoints.models import ChargePoint, ChargePointConnector, OcppTransaction
from chargepoints.ocpp_gateway import handlers
from locations.models import EVSE, Location, LocationDocument
from partners.models import OutboxDelivery
from sessions.models import ChargingSession, SessionStatus
from tests.conftest import make_registered_partner
from tests.locations.factories import ConnectorFactory, EvseFactory
from tests.tokens.factories import ReceivedTokenFactory

CHARGERS = 6  # EVSEs of one location, one charge point each, one database thread each
ROUNDS = 2  # transactions per charge point
STEP_SECONDS = 10


@pytest.fixture
def no_delivery(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Outbox rows are written as in production; the delivery tasks are not run (as in the benchmark)."""
    queued: list[int] = []
    monkeypatch.setattr("partners.outbox.services._schedule", lambda pk, countdown=0: queued.append(pk))
    return queued


@pytest.fixture
def chargers(site: Location, no_delivery: list[int]) -> list[tuple[str, str]]:
    """CHARGERS charge points on EVSEs P1.. of the location LOCG, each with a whitelisted token of a partner eMSP
    that receives locations, sessions and CDRs (so every change enqueues an outbox row). (identity, idTag)."""
    partner = make_registered_partner(
        "eMSP DE/EMP",
        [("EMSP", "DE", "EMP")],
        [(module, "RECEIVER", f"http://127.0.0.1:9/{module}") for module in ("locations", "sessions", "cdrs")],
    ).partner
    result = []
    for i in range(CHARGERS):
        evse = EvseFactory(location=site, uid=f"EVSE-P{i}", status="AVAILABLE", capabilities=["RFID_READER"])
        connector = ConnectorFactory(evse=evse, ocpi_id="1", tariff_ids=["TG"])
        cp = ChargePoint.objects.create(identity=f"CP-P{i}")
        ChargePointConnector.objects.create(
            charge_point=cp, ocpp_evse_id=1, ocpp_connector_id=1, evse=evse, connector=connector
        )
        token = ReceivedTokenFactory(ocpi_id=f"04P{i:05d}", whitelist="ALWAYS", received_from=partner)
        result.append((cp.identity, token.ocpi_id))
    return result


def _charge(identity: str, id_tag: str, at: Any, meter: int, step: Any) -> None:
    """One charger's transaction as the server runs it: status, start, status, meter values, stop, status."""
    step(handlers.status, identity, evse_id=1, connector_id=1, ocpp_status="Preparing")
    tx, auth = step(
        handlers.transaction_start,
        identity,
        evse_id=1,
        connector_id=1,
        id_tag=id_tag,
        timestamp=at.isoformat(),
        meter_start_wh=meter,
    )
    assert auth == "Accepted"
    step(handlers.status, identity, evse_id=1, connector_id=1, ocpp_status="Charging")
    step(handlers.transaction_meter, identity, tx.transaction_id, (at + timedelta(seconds=STEP_SECONDS), meter + 1000))
    step(
        handlers.transaction_stop,
        identity,
        tx.transaction_id,
        timestamp=(at + timedelta(seconds=2 * STEP_SECONDS)).isoformat(),
        meter_stop_wh=meter + 1500,
    )
    step(handlers.status, identity, evse_id=1, connector_id=1, ocpp_status="Finishing")
    step(handlers.status, identity, evse_id=1, connector_id=1, ocpp_status="Available")


@pytest.mark.django_db(transaction=True)
def test_concurrent_chargers_of_one_location_never_deadlock(
    chargers: list[tuple[str, str]], caplog: pytest.LogCaptureFixture
) -> None:
    """Every step of every charger runs at the same moment as the same step of the others (a barrier per step),
    each thread on its own database connection. Before the lock order fix this deadlocked in PostgreSQL on the
    location row against its Sender document (a CallError InternalError for the charge point)."""
    caplog.set_level(logging.WARNING, logger="chargepoints.ocpp_gateway.handlers")
    barrier = threading.Barrier(CHARGERS)
    failures: list[BaseException] = []
    t0 = timezone.now().replace(microsecond=0) - timedelta(hours=1)

    def step(func: Any, *args: Any, **kwargs: Any) -> Any:
        barrier.wait(timeout=60)
        return func(*args, **kwargs)

    def run(identity: str, id_tag: str) -> None:
        try:
            for round_ in range(ROUNDS):
                _charge(identity, id_tag, t0 + timedelta(minutes=5 * round_), 10_000 * round_, step)
        except BaseException as exc:  # noqa: BLE001  (reported below, with the others)
            failures.append(exc)
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=charger) for charger in chargers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not [t for t in threads if t.is_alive()]
    assert failures == []
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert retried == []  # not even the safety net was needed: nothing deadlocked

    # Every transaction became a COMPLETED session of 1.5 kWh with its CDR.
    for identity, _ in chargers:
        txs = list(OcppTransaction.objects.filter(charge_point__identity=identity).select_related("session"))
        assert len(txs) == ROUNDS
        for tx in txs:
            assert tx.stopped_at is not None
            assert tx.session.status == SessionStatus.COMPLETED
            assert tx.session.kwh == Decimal("1.5")
            assert len(tx.session.charging_periods) == 2
    sessions = ChargingSession.objects.filter(evse_uid__startswith="EVSE-P")
    assert sessions.count() == CHARGERS * ROUNDS
    cdrs = Cdr.objects.filter(charging_session__in=sessions)
    assert cdrs.count() == CHARGERS * ROUNDS
    assert {cdr.total_energy for cdr in cdrs} == {Decimal("1.5")}

    # The location: every EVSE AVAILABLE, last_updated not older than any EVSE's, its document current.
    location = Location.objects.get(ocpi_id="LOCG")
    evses = list(EVSE.objects.filter(location=location, uid__startswith="EVSE-P"))
    assert {e.status for e in evses} == {"AVAILABLE"}
    assert location.last_updated >= max(e.last_updated for e in evses)
    document = LocationDocument.objects.filter(location=location).first()
    if document is not None:  # stored: it must be the current one
        assert document.source_last_updated == location.last_updated
        assert document.body.count('"status":"AVAILABLE"') >= CHARGERS
    # One open outbox row for the location (merged), not one per change.
    assert OutboxDelivery.objects.filter(module="locations", object_id=location.pk, state="PENDING").count() == 1


# Statements (BEGIN, SAVEPOINT and COMMIT included) of one StopTransaction with its final meter value, the CDR
# issued and pushed. Before issue 16's fix: 94 (the final meter value and the stop were two session writes, each
# enqueuing a push). Now one session write and push, in three short transactions (the session; the EVSE with the
# location locked; the CDR).
STOP_QUERIES = 79


@pytest.mark.django_db(transaction=True)
def test_stop_transaction_query_count(chargers: list[tuple[str, str]]) -> None:
    """StopTransaction with its final meter value: the session is completed and pushed once, the CDR issued."""
    identity, id_tag = chargers[0]
    at = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    tx, _ = handlers.transaction_start(
        identity, evse_id=1, connector_id=1, id_tag=id_tag, timestamp=at.isoformat(), meter_start_wh=0
    )
    handlers.transaction_meter(identity, tx.transaction_id, (at + timedelta(seconds=STEP_SECONDS), 1000))
    with CaptureQueriesContext(connection) as queries:
        handlers.transaction_stop(
            identity,
            tx.transaction_id,
            timestamp=(at + timedelta(seconds=2 * STEP_SECONDS)).isoformat(),
            meter_stop_wh=1500,
        )
    session = ChargingSession.objects.get(pk=tx.session_id)
    assert session.status == SessionStatus.COMPLETED
    assert session.kwh == Decimal("1.5")
    assert Cdr.objects.filter(charging_session=session).count() == 1
    assert len(queries) <= STOP_QUERIES, "\n".join(q["sql"][:200] for q in queries.captured_queries)


# --- the safety net --------------------------------------------------------------------------------------


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _operational(sqlstate: str) -> OperationalError:
    exc = OperationalError(f"sqlstate {sqlstate}")
    exc.__cause__ = _PgError(sqlstate)  # as Django wraps psycopg's errors
    return exc


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])  # deadlock_detected, serialization_failure
def test_a_transaction_lost_to_a_deadlock_is_run_again(sqlstate: str, caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[bool] = []

    def work(first: bool) -> str:
        attempts.append(first)
        ChargePoint.objects.create(identity=f"CP-TRY-{len(attempts)}")
        if len(attempts) < 3:
            raise _operational(sqlstate)
        return "done"

    assert handlers.atomic_retrying(work, "test") == "done"
    assert attempts == [True, False, False]
    assert list(ChargePoint.objects.filter(identity__startswith="CP-TRY-").values_list("identity", flat=True)) == [
        "CP-TRY-3"  # the failed attempts were rolled back
    ]
    assert sum("retrying" in r.getMessage() for r in caplog.records) == 2


@pytest.mark.django_db(transaction=True)
def test_the_safety_net_gives_up_and_retries_nothing_else() -> None:
    attempts: list[bool] = []

    def deadlocked(first: bool) -> None:
        attempts.append(first)
        raise _operational("40P01")

    with pytest.raises(OperationalError):
        handlers.atomic_retrying(deadlocked, "test")
    assert len(attempts) == 1 + handlers.DB_RETRIES

    attempts.clear()

    def broken(first: bool) -> None:
        attempts.append(first)
        raise _operational("08006")  # connection failure: not a lock conflict

    with pytest.raises(OperationalError):
        handlers.atomic_retrying(broken, "test")
    assert attempts == [True]
