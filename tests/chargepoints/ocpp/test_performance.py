"""The OCPP server under load (issue 16): cached password checks, batched message log, the database thread pool,
Authorize reused by StartTransaction, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from django.contrib.auth.hashers import make_password
from ocpp.v16 import call as call16

from chargepoints.models import ChargePoint, OcppMessage, OcppTransaction
from chargepoints.ocpp_gateway import handlers, server
from chargepoints.ocpp_gateway.handlers import CredentialCache
from chargepoints.ocpp_gateway.server import MessageLogWriter, OcppServer
from tests.chargepoints.ocpp.harness import PASSWORD, Connected, ServerThread, basic
from tests.sessions.test_gateway_fixtures import TOKEN_UID

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


# --- credential cache ------------------------------------------------------------------------------------


@pytest.fixture
def counted_hasher(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every call of the (slow, in production) password hasher, by password."""
    calls: list[str] = []
    real = handlers.check_password

    def counting(password: str, encoded: str) -> bool:
        calls.append(password)
        return real(password, encoded)

    monkeypatch.setattr(handlers, "check_password", counting)
    return calls


def test_right_password_is_checked_once_then_served_from_the_cache(counted_hasher: list[str]) -> None:
    cache = CredentialCache()
    hashed = make_password("secret-1")
    assert cache.verify("CP-1", hashed, "secret-1")
    assert cache.verify("CP-1", hashed, "secret-1")
    assert cache.hit("CP-1", hashed, "secret-1")
    assert counted_hasher == ["secret-1"]
    assert not cache.hit("CP-2", hashed, "secret-1")  # per identity


def test_wrong_password_is_never_cached(counted_hasher: list[str]) -> None:
    cache = CredentialCache()
    hashed = make_password("secret-1")
    assert not cache.verify("CP-1", hashed, "wrong")
    assert not cache.hit("CP-1", hashed, "wrong")
    assert not cache.verify("CP-1", hashed, "wrong")
    assert counted_hasher == ["wrong", "wrong"]  # checked with the hasher every time
    # a wrong attempt neither poisons nor evicts the right password's entry
    assert cache.verify("CP-1", hashed, "secret-1")
    assert not cache.verify("CP-1", hashed, "wrong")
    assert not cache.hit("CP-1", hashed, "")
    assert cache.hit("CP-1", hashed, "secret-1")
    assert not cache.verify("CP-1", "", "secret-1")  # no password set: never accepted


def test_changed_password_hash_invalidates_the_cache(counted_hasher: list[str]) -> None:
    cache = CredentialCache()
    old, new = make_password("secret-1"), make_password("secret-2")
    assert cache.verify("CP-1", old, "secret-1")
    assert not cache.hit("CP-1", new, "secret-1")
    assert not cache.verify("CP-1", new, "secret-1")
    assert not cache.hit("CP-1", old, "secret-1")  # the stale entry is gone
    assert cache.verify("CP-1", new, "secret-2")
    assert counted_hasher == ["secret-1", "secret-1", "secret-2"]


@pytest.mark.django_db(transaction=True)
def test_server_uses_the_cache_and_sees_a_password_change(
    ocpp_server: Any, charge_point: Any, counted_hasher: list[str]
) -> None:
    handlers.credential_cache.clear()

    async def attempt(password: str) -> int | str:
        try:
            ws = await websockets.connect(
                ocpp_server.url("CP-1"), subprotocols=["ocpp1.6"], additional_headers=basic("CP-1", password)
            )
        except websockets.InvalidStatus as exc:
            return exc.response.status_code
        await ws.close()
        return "accepted"

    assert ocpp_server.run(attempt(PASSWORD)) == "accepted"
    assert ocpp_server.run(attempt(PASSWORD)) == "accepted"
    assert counted_hasher == [PASSWORD]  # the second handshake did not hash
    assert ocpp_server.run(attempt("wrong")) == 401
    assert ocpp_server.run(attempt("wrong")) == 401
    assert counted_hasher == [PASSWORD, "wrong", "wrong"]

    charge_point.set_password("changed-in-the-admin")
    charge_point.save()
    assert ocpp_server.run(attempt(PASSWORD)) == 401
    assert ocpp_server.run(attempt("changed-in-the-admin")) == "accepted"
    handlers.credential_cache.clear()


# --- batched message log ---------------------------------------------------------------------------------


@pytest.fixture
def batched_server(transactional_db: Any, settings: Any) -> Iterator[ServerThread]:
    settings.OCPP_MESSAGE_LOG_FLUSH_SECONDS = 60  # nothing is written before the shutdown unless batch_rows fill
    srv = ServerThread(OcppServer(server_id="test-batched"))
    yield srv
    if srv.thread.is_alive():
        srv.stop()


def _log(cp: ChargePoint) -> list[tuple[str, str, str]]:
    return [(m.direction, m.message_type, m.action) for m in OcppMessage.objects.filter(charge_point=cp).order_by("pk")]


def test_message_log_is_written_in_order_at_shutdown(batched_server: ServerThread, charge_point: Any) -> None:
    cp = Connected(batched_server, "CP-1", "ocpp1.6")
    cp.call(call16.BootNotification(charge_point_model="M1", charge_point_vendor="ACME"))
    cp.call(call16.Heartbeat())
    cp.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
    assert OcppMessage.objects.count() == 0  # buffered, not in the message's path
    assert batched_server.ocpp.message_log.pending() == 6
    cp.close()
    batched_server.stop()  # OcppServer.stopped() writes what is left
    assert _log(charge_point) == [
        ("IN", "CALL", "BootNotification"),
        ("OUT", "CALLRESULT", ""),
        ("IN", "CALL", "Heartbeat"),
        ("OUT", "CALLRESULT", ""),
        ("IN", "CALL", "StatusNotification"),
        ("OUT", "CALLRESULT", ""),
    ]
    assert OcppMessage.objects.filter(action="BootNotification").get().payload["chargePointVendor"] == "ACME"


def test_message_log_batches_are_written_while_running(batched_server: ServerThread, charge_point: Any) -> None:
    writer = batched_server.ocpp.message_log
    writer.flush_seconds, writer.batch_rows = 0.1, 4
    cp = Connected(batched_server, "CP-1", "ocpp1.6")
    try:
        for _ in range(5):
            cp.call(call16.Heartbeat())
        deadline = time.monotonic() + 5
        while OcppMessage.objects.count() < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _log(charge_point) == [("IN", "CALL", "Heartbeat"), ("OUT", "CALLRESULT", "")] * 5
    finally:
        cp.close()


@pytest.mark.django_db(transaction=True)
def test_message_log_writer_keeps_rows_when_the_database_fails(
    charge_point: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = MessageLogWriter(flush_seconds=60)
    rows = [handlers.message_row(charge_point.pk, f'[2, "{i}", "Heartbeat", {{}}]', "IN") for i in range(3)]
    real = handlers.write_messages
    monkeypatch.setattr(handlers, "write_messages", lambda batch: (_ for _ in ()).throw(RuntimeError("db down")))

    async def scenario() -> tuple[int, int, int]:
        for row in rows:
            await writer.record(row)
        failed = await writer.flush()
        pending = writer.pending()
        monkeypatch.setattr(handlers, "write_messages", real)
        await writer.close()
        await server.close_db_connections()
        return failed, pending, writer.pending()

    assert asyncio.run(scenario()) == (0, 3, 0)
    assert list(OcppMessage.objects.order_by("pk").values_list("unique_id", flat=True)) == ["0", "1", "2"]


# --- thread pool -----------------------------------------------------------------------------------------


@pytest.fixture
def pooled_server(transactional_db: Any, settings: Any) -> Iterator[ServerThread]:
    settings.OCPP_DB_THREADS = 4
    srv = ServerThread(OcppServer(server_id="test-pool"))
    yield srv
    srv.stop()


def test_a_slow_handler_does_not_block_another_charge_points_heartbeat(
    pooled_server: ServerThread, charge_point: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = ChargePoint(identity="CP-SLOW")
    other.set_password(PASSWORD)
    other.save()
    real_status = handlers.status

    def slow_status(identity: str, **kw: Any) -> Any:
        if identity == "CP-SLOW":
            time.sleep(2)  # a long database round trip
        return real_status(identity, **kw)

    monkeypatch.setattr(handlers, "status", slow_status)
    slow = Connected(pooled_server, "CP-SLOW", "ocpp1.6")
    fast = Connected(pooled_server, "CP-1", "ocpp1.6")

    async def scenario() -> tuple[float, bool]:
        pending = asyncio.ensure_future(
            slow.client.call(call16.StatusNotification(connector_id=1, error_code="NoError", status="Available"))
        )
        await asyncio.sleep(0.3)  # the slow handler holds one database thread
        started = time.monotonic()
        await fast.client.call(call16.Heartbeat())
        elapsed = time.monotonic() - started
        slow_done = pending.done()
        await pending
        return elapsed, slow_done

    try:
        elapsed, slow_done = pooled_server.run(scenario())
        assert not slow_done
        assert elapsed < 1.0
    finally:
        slow.close()
        fast.close()


# --- Authorize reused ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_start_transaction_reuses_the_authorize_decision(
    ocpp_server: Any, charge_point: Any, emsp_token: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    decisions: list[str] = []
    real = handlers.token_authorize_at_charge_point

    def counting(**kw: Any) -> Any:
        decisions.append(kw["uid"])
        return real(**kw)

    monkeypatch.setattr(handlers, "token_authorize_at_charge_point", counting)
    cp = Connected(ocpp_server, "CP-1", "ocpp1.6")
    try:
        assert cp.call(call16.Authorize(id_tag=TOKEN_UID)).id_tag_info["status"] == "Accepted"
        started = cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag=TOKEN_UID, meter_start=0, timestamp=T0.isoformat().replace("+00:00", "Z")
            )
        )
        assert started.id_tag_info["status"] == "Accepted"
        assert decisions == [TOKEN_UID]  # asked once
        tx = OcppTransaction.objects.get(transaction_id=str(started.transaction_id))
        assert tx.session is not None and tx.session.auth_method == "WHITELIST"
        # a start without a fresh Authorize is decided again
        cp.call(
            call16.StopTransaction(
                meter_stop=1000, timestamp="2026-03-02T11:00:00Z", transaction_id=started.transaction_id
            )
        )
        again = cp.call(
            call16.StartTransaction(
                connector_id=1, id_tag=TOKEN_UID, meter_start=1000, timestamp="2026-03-02T12:00:00Z"
            )
        )
        assert again.id_tag_info["status"] == "Accepted"
        assert decisions == [TOKEN_UID, TOKEN_UID]
    finally:
        cp.close()


# --- shutdown --------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_ocpp_server_command_stops_promptly_on_a_signal(charge_point: Any, settings: Any, signum: int) -> None:
    """SIGTERM/SIGINT: sockets closed, the charge point marked disconnected, the buffered log written, the
    database threads closed, within seconds, even with a database job still running."""
    from chargepoints.management.commands.ocpp_server import Command

    settings.OCPP_MESSAGE_LOG_FLUSH_SECONDS = 60
    settings.REDIS_URL = settings.OCPP_REDIS_URL = ""  # the plain server (the RPC layer stops the same way)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> tuple[float, bool]:
        serving = asyncio.create_task(Command()._serve("127.0.0.1", port, "test-signal"))
        for _ in range(100):
            await asyncio.sleep(0.05)
            try:
                ws = await websockets.connect(
                    f"ws://127.0.0.1:{port}/ocpp/CP-1",
                    subprotocols=["ocpp1.6"],
                    additional_headers=basic("CP-1", PASSWORD),
                )
                break
            except OSError:
                continue
        await ws.send('[2, "hb-1", "Heartbeat", {}]')
        await ws.recv()
        stuck = asyncio.ensure_future(server.db(time.sleep)(3))  # a slow query still running at the signal
        os.kill(os.getpid(), signum)
        started = time.monotonic()
        await asyncio.wait_for(serving, 20)
        elapsed = time.monotonic() - started
        with contextlib.suppress(Exception):
            await stuck
        closed = ws.state.name == "CLOSED" or await _closed(ws)
        return elapsed, closed

    elapsed, closed = asyncio.run(scenario())
    assert elapsed < 8
    assert closed
    charge_point.refresh_from_db()
    assert not charge_point.connected
    assert _log(charge_point) == [("IN", "CALL", "Heartbeat"), ("OUT", "CALLRESULT", "")]


async def _closed(ws: Any) -> bool:
    try:
        await asyncio.wait_for(ws.recv(), 2)
    except websockets.ConnectionClosed:
        return True
    return False


@pytest.mark.django_db(transaction=True)
def test_too_many_password_checks_waiting_get_503_but_cached_charge_points_connect(
    ocpp_server: Any, charge_point: Any, settings: Any
) -> None:
    handlers.credential_cache.clear()

    async def attempt(password: str) -> Any:
        try:
            ws = await websockets.connect(
                ocpp_server.url("CP-1"), subprotocols=["ocpp1.6"], additional_headers=basic("CP-1", password)
            )
        except websockets.InvalidStatus as exc:
            return exc.response.status_code, exc.response.headers.get("Retry-After")
        await ws.close()
        return "accepted"

    settings.OCPP_AUTH_QUEUE = 0  # the hashing pool is "full"
    assert ocpp_server.run(attempt(PASSWORD)) == (503, "10")
    settings.OCPP_AUTH_QUEUE = 8
    assert ocpp_server.run(attempt(PASSWORD)) == "accepted"
    settings.OCPP_AUTH_QUEUE = 0
    assert ocpp_server.run(attempt(PASSWORD)) == "accepted"  # from the cache: no hashing needed
    assert ocpp_server.run(attempt("wrong")) == (503, "10")  # never accepted without a check
    handlers.credential_cache.clear()
