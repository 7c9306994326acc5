"""The OCPP-J WebSocket server (issue 16): ws://host/ocpp/<charge_point_id>, subprotocols ocpp1.6 / ocpp2.0.1.

Security profile 1 (OCPP 1.6 security whitepaper / 2.0.1 A00.FR.2xx): HTTP Basic auth, the password checked
against ChargePoint.password_hash before the upgrade (unknown or wrong -> 401); profile 2: the same over TLS
(wss://, `serve(ssl=tls_context(certfile, keyfile))`). One `ocpp` library
ChargePoint subclass per protocol; their handlers run `handlers` (Django ORM) in a bounded thread pool
(OCPP_DB_THREADS): the event loop never waits on the database, hundreds of charge points are served at once,
each one's messages one at a time and in order. Password checks (PBKDF2) run in their own small pool
(OCPP_AUTH_THREADS) and successful ones are cached (handlers.CredentialCache); the message log is written in
batches (MessageLogWriter, OCPP_MESSAGE_LOG_FLUSH_SECONDS).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import contextvars
import json
import logging
import ssl as ssl_module
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..models import heartbeat_interval
from . import handlers

logger = logging.getLogger(__name__)

PROTOCOLS = ["ocpp2.0.1", "ocpp1.6"]
PATH_PREFIX = "/ocpp/"


def db_threads() -> int:
    """Threads running the handlers' ORM work (OCPP_DB_THREADS; default 8, 1 on SQLite: one writer at a time)."""
    configured = getattr(settings, "OCPP_DB_THREADS", None)
    if configured:
        return max(1, int(configured))
    return 1 if connections["default"].vendor == "sqlite" else 8


class DbPool:
    """A bounded pool of threads for the ORM work of every connection (issue 16: hundreds of charge points).

    Each thread keeps its own Django connection (dropped when broken or past CONN_MAX_AGE before each job, like
    a web worker's request cycle). Messages of one charge point stay in order: the `ocpp` library handles one
    message per connection at a time and every handler awaits its database work before answering."""

    def __init__(self, threads: int, name: str = "ocpp-db") -> None:
        self.threads = threads
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    async def run(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        def job() -> Any:
            close_old_connections()
            return func(*args, **kwargs)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, contextvars.copy_context().run, job)

    async def close(self, timeout: float = 10.0) -> None:
        """Close every thread's database connections, then end the threads (what is queued is dropped)."""
        barrier = threading.Barrier(self.threads)

        def close_mine() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout)  # one job per thread: each closes its own connections
            connections.close_all()

        loop = asyncio.get_running_loop()
        jobs = [loop.run_in_executor(self.executor, close_mine) for _ in range(self.threads)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), timeout + 1)
        self.executor.shutdown(wait=False, cancel_futures=True)


_pool: DbPool | None = None
_auth_pool: ThreadPoolExecutor | None = None


def db_pool() -> DbPool:
    global _pool
    if _pool is None:
        _pool = DbPool(db_threads())
    return _pool


def auth_pool() -> ThreadPoolExecutor:
    """Password hashing (PBKDF2, ~0.5 s of CPU) off the event loop and off the database threads."""
    global _auth_pool
    if _auth_pool is None:
        _auth_pool = ThreadPoolExecutor(
            max_workers=max(1, int(getattr(settings, "OCPP_AUTH_THREADS", 2))), thread_name_prefix="ocpp-auth"
        )
    return _auth_pool


def db(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`await db(handler)(*args)`: run ORM code in the database thread pool."""

    async def run(*args: Any, **kwargs: Any) -> Any:
        return await db_pool().run(func, *args, **kwargs)

    return run


async def close_db_connections() -> None:
    """Close the pool threads' connections and end them (shutdown, tests); a later db() starts a new pool."""
    global _pool, _auth_pool
    pool, _pool = _pool, None
    if pool is not None:
        await pool.close()
    auth, _auth_pool = _auth_pool, None
    if auth is not None:
        auth.shutdown(wait=False, cancel_futures=True)


def _now() -> str:
    from django.utils import timezone

    return timezone.now().isoformat().replace("+00:00", "Z")


SEEN_WRITE_SECONDS = 30  # last_seen_at is written at most this often per connection
AUTHORIZE_REUSE_SECONDS = 60  # an accepted Authorize answers the same idTag's StartTransaction this long


class MessageLogWriter:
    """OcppMessage rows written in batches: one multi-row INSERT every `flush_seconds` (or as soon as
    `batch_rows` are waiting) instead of one INSERT per frame in the message's path.

    Rows are written in the order they were recorded; a failed write is retried with the next batch (at most
    `max_rows` wait; beyond that the oldest are dropped and the drop logged); close() writes what is left
    (server shutdown) and from then on every row is written at once. flush_seconds = 0 writes each row before
    the message is handled (the tests read the log right after a call). `created_at` is the time of the write
    (at most flush_seconds late)."""

    def __init__(self, *, flush_seconds: float, batch_rows: int = 500, max_rows: int = 50_000) -> None:
        self.flush_seconds = flush_seconds
        self.batch_rows = batch_rows
        self.max_rows = max_rows
        self.dropped = 0
        self._rows: collections.deque[Any] = collections.deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one writer at a time: batches stay in order
        self._closed = False

    @property
    def immediate(self) -> bool:
        return self.flush_seconds <= 0 or self._closed

    async def record(self, row: Any) -> None:
        if self.immediate:
            self._rows.append(row)
            await self.flush()
            return
        if len(self._rows) >= self.max_rows:
            self._rows.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                logger.error("OCPP message log buffer full: %d rows dropped so far", self.dropped)
        self._rows.append(row)
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        if len(self._rows) >= self.batch_rows:
            self._wake.set()

    def pending(self) -> int:
        return len(self._rows)

    async def flush(self) -> int:
        written = 0
        async with self._lock:
            while self._rows:
                batch = [self._rows.popleft() for _ in range(min(self.batch_rows, len(self._rows)))]
                try:
                    written += await db(handlers.write_messages)(batch)
                except Exception:
                    logger.exception("Could not write %d OCPP message log rows; retrying later", len(batch))
                    self._rows.extendleft(reversed(batch))
                    while len(self._rows) > self.max_rows:
                        self._rows.popleft()
                        self.dropped += 1
                    break
        return written

    async def _run(self) -> None:
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_seconds)
            self._wake.clear()
            await self.flush()

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()


def message_log_flush_seconds() -> float:
    return float(getattr(settings, "OCPP_MESSAGE_LOG_FLUSH_SECONDS", 0.5))


class LoggingMixin:
    """Every frame in and out stored as an OcppMessage (batched by the server's MessageLogWriter); last_seen_at
    kept (throttled). `server` and `cp_pk` are set by OcppServer.handler."""

    id: str
    _pending_actions: dict[str, str]
    _seen_written: float = 0.0
    server: OcppServer | None = None
    cp_pk: int | None = None

    def _init_state(self) -> None:
        self._pending_actions = {}
        self._authorized: dict[str, tuple[float, handlers.Authorization]] = {}

    async def _log(self, raw: str, direction: str, hint: str = "") -> None:
        if self.cp_pk is None:
            await db(handlers.log_message)(self.id, raw, direction, hint)
            return
        row = handlers.message_row(self.cp_pk, raw, direction, hint)
        if self.server is not None:
            await self.server.message_log.record(row)
        else:
            await db(handlers.write_messages)([row])

    async def route_message(self, raw_msg: str) -> None:
        now = time.monotonic()
        if now - self._seen_written >= SEEN_WRITE_SECONDS:
            self._seen_written = now
            await db(handlers.seen)(self.id)
        hint = ""
        try:
            frame = json.loads(raw_msg)
            if frame[0] in (3, 4):
                hint = self._pending_actions.pop(str(frame[1]), "")
        except (ValueError, IndexError, TypeError, KeyError):
            pass
        await self._log(raw_msg, "IN", hint)
        await super().route_message(raw_msg)  # type: ignore[misc]

    async def _send(self, message: str) -> None:
        try:
            frame = json.loads(message)
            if frame[0] == 2:
                self._pending_actions[str(frame[1])] = frame[2]
        except (ValueError, IndexError, TypeError):
            pass
        await self._log(message, "OUT")
        await super()._send(message)  # type: ignore[misc]

    async def _authorize(self, id_tag: str) -> handlers.Authorization:
        auth = await db(handlers.authorize)(self.id, id_tag)
        if auth.status == "Accepted":
            self._authorized[id_tag.upper()] = (time.monotonic(), auth)
        return auth

    def _recent_authorization(self, id_tag: str) -> handlers.Authorization | None:
        """An accepted Authorize of this idTag on this connection within AUTHORIZE_REUSE_SECONDS (used once)."""
        found = self._authorized.pop(id_tag.upper(), None)
        if found is None or time.monotonic() - found[0] > AUTHORIZE_REUSE_SECONDS:
            return None
        return found[1]


class OcppV16(LoggingMixin, ChargePoint16):
    """OCPP 1.6J Central System side."""

    protocol = "ocpp1.6"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_state()

    @on("BootNotification")
    async def on_boot(self, charge_point_vendor: str, charge_point_model: str, **kw: Any):
        await db(handlers.boot)(
            self.id,
            vendor=charge_point_vendor,
            model=charge_point_model,
            serial=kw.get("charge_point_serial_number", ""),
            firmware=kw.get("firmware_version", ""),
        )
        return result16.BootNotification(current_time=_now(), interval=heartbeat_interval(), status="Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self):
        await db(handlers.heartbeat)(self.id)
        return result16.Heartbeat(current_time=_now())

    @on("StatusNotification")
    async def on_status(self, connector_id: int, error_code: str, status: str, **kw: Any):
        await db(handlers.status)(self.id, evse_id=connector_id, connector_id=None, ocpp_status=status)
        return result16.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, id_tag: str):
        auth = await self._authorize(id_tag)
        return result16.Authorize(id_tag_info={"status": auth.status})

    @on("StartTransaction")
    async def on_start(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **kw: Any):
        tx, status = await db(handlers.transaction_start)(
            self.id,
            evse_id=connector_id,
            connector_id=None,
            id_tag=id_tag,
            timestamp=timestamp,
            meter_start_wh=meter_start,
            authorization=self._recent_authorization(id_tag),
        )
        return result16.StartTransaction(transaction_id=int(tx.transaction_id), id_tag_info={"status": status})

    @on("MeterValues")
    async def on_meter_values(self, connector_id: int, meter_value: list, **kw: Any):
        if kw.get("transaction_id") is not None:
            readings = handlers.meter_readings(meter_value)
            await db(handlers.transaction_meter)(self.id, str(kw["transaction_id"]), readings)
        return result16.MeterValues()

    @on("StopTransaction")
    async def on_stop(self, meter_stop: int, timestamp: str, transaction_id: int, **kw: Any):
        await db(handlers.transaction_stop)(
            self.id,
            str(transaction_id),
            timestamp=timestamp,
            meter_stop_wh=meter_stop,
            readings=handlers.meter_readings(kw.get("transaction_data") or []),
        )
        return (
            result16.StopTransaction(id_tag_info={"status": "Accepted"})
            if kw.get("id_tag")
            else (result16.StopTransaction())
        )


class OcppV201(LoggingMixin, ChargePoint201):
    """OCPP 2.0.1 CSMS side."""

    protocol = "ocpp2.0.1"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._init_state()

    @on("BootNotification")
    async def on_boot(self, charging_station: dict, reason: str, **kw: Any):
        await db(handlers.boot)(
            self.id,
            vendor=charging_station.get("vendor_name", ""),
            model=charging_station.get("model", ""),
            serial=charging_station.get("serial_number", ""),
            firmware=charging_station.get("firmware_version", ""),
        )
        return result201.BootNotification(current_time=_now(), interval=heartbeat_interval(), status="Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self):
        await db(handlers.heartbeat)(self.id)
        return result201.Heartbeat(current_time=_now())

    @on("StatusNotification")
    async def on_status(self, timestamp: str, connector_status: str, evse_id: int, connector_id: int, **kw: Any):
        await db(handlers.status)(self.id, evse_id=evse_id, connector_id=connector_id, ocpp_status=connector_status)
        return result201.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, id_token: dict, **kw: Any):
        auth = await self._authorize(id_token["id_token"])
        return result201.Authorize(id_token_info={"status": auth.status})

    @on("MeterValues")
    async def on_meter_values(self, evse_id: int, meter_value: list, **kw: Any):
        return result201.MeterValues()  # transaction meter values come in TransactionEvent (2.0.1 J02)

    @on("TransactionEvent")
    async def on_transaction_event(
        self, event_type: str, timestamp: str, trigger_reason: str, seq_no: int, transaction_info: dict, **kw: Any
    ):
        tx_id = transaction_info["transaction_id"]
        readings = handlers.meter_readings(kw.get("meter_value") or [])
        if event_type == "Started":
            evse = kw.get("evse") or {}
            id_token = (kw.get("id_token") or {}).get("id_token", "")
            _, status = await db(handlers.transaction_start)(
                self.id,
                evse_id=evse.get("id", 1),
                connector_id=evse.get("connector_id"),
                id_tag=id_token,
                timestamp=timestamp,
                meter_start_wh=readings[0][1] if readings else 0,
                transaction_id=tx_id,
                authorization=self._recent_authorization(id_token) if id_token else None,
            )
            await db(handlers.transaction_meter)(self.id, tx_id, readings[1:])
            return result201.TransactionEvent(id_token_info={"status": status})
        if event_type == "Updated":
            await db(handlers.transaction_meter)(self.id, tx_id, readings)
            return result201.TransactionEvent()
        await db(handlers.transaction_stop)(self.id, tx_id, timestamp=timestamp, meter_stop_wh=None, readings=readings)
        return result201.TransactionEvent()


HANDLERS: dict[str, type[OcppV16] | type[OcppV201]] = {"ocpp1.6": OcppV16, "ocpp2.0.1": OcppV201}


RETRY_AFTER_SECONDS = 10


class AuthOverloaded(Exception):
    """Too many password checks waiting: the handshake is answered 503 at once."""


class OcppServer:
    """One server process: accepts charge points, keeps `connections` (identity -> handler) for the RPC."""

    def __init__(self, *, server_id: str | None = None) -> None:
        self.server_id = server_id or uuid.uuid4().hex
        self.connections: dict[str, OcppV16 | OcppV201] = {}
        self.message_log = MessageLogWriter(flush_seconds=message_log_flush_seconds())
        self._hashing = 0  # password checks waiting for or running in the hashing pool

    @staticmethod
    def identity_of(path: str) -> str | None:
        if not path.startswith(PATH_PREFIX):
            return None
        identity = path[len(PATH_PREFIX) :].split("?", 1)[0].strip("/")
        return identity if identity and "/" not in identity else None

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        identity = self.identity_of(request.path)
        if identity is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        password = None
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                password = None
            else:
                password = password if user == identity else None
        try:
            accepted = await self.authenticate(identity, password)
        except AuthOverloaded:
            response = connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Busy, retry later\n")
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        if not accepted:
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
            return response
        return None

    async def authenticate(self, identity: str, password: str | None) -> bool:
        """The hash is read in the database pool, checked from the cache or in the hashing pool.

        At most OCPP_AUTH_QUEUE checks wait for the hashing pool; beyond that AuthOverloaded (503 + Retry-After):
        in a connect storm on a busy machine a long queue would make every handshake outlive its open_timeout
        (each check done for a charge point that has given up), a short one keeps admitting some."""
        password_hash = await db(handlers.credentials)(identity)
        if password_hash is None or password is None:
            return False
        cache = handlers.credential_cache
        if cache.hit(identity, password_hash, password):
            return True
        if self._hashing >= int(getattr(settings, "OCPP_AUTH_QUEUE", 8)):
            raise AuthOverloaded
        self._hashing += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(auth_pool(), cache.verify, identity, password_hash, password)
        finally:
            self._hashing -= 1

    async def handler(self, connection: ServerConnection) -> None:
        identity = self.identity_of(connection.request.path)  # type: ignore[union-attr]
        protocol = connection.subprotocol
        if identity is None or protocol not in HANDLERS:
            await connection.close(1002, "subprotocol ocpp1.6 or ocpp2.0.1 required")
            return
        cp = HANDLERS[protocol](identity, connection)
        cp.server = self
        previous = self.connections.get(identity)
        self.connections[identity] = cp
        cp.cp_pk = await db(handlers.mark_connected)(
            identity, protocol=protocol, server_id=self.server_id, connected=True
        )
        await self.on_connect(identity)
        try:
            await cp.start()
        except ConnectionClosed as exc:
            logger.info("Charge point %s disconnected: %r", identity, exc)
        finally:
            if self.connections.get(identity) is cp:
                del self.connections[identity]
                await db(handlers.mark_connected)(identity, protocol=protocol, server_id="", connected=False)
                await self.on_disconnect(identity)
            del previous

    async def release(self) -> None:
        """Before accepting connections: what a previous process with this server id held is disconnected."""
        released = await db(handlers.release_server)(self.server_id)
        if released:
            logger.info("Server %s: %d charge points of a previous run marked disconnected", self.server_id, released)

    async def started(self) -> None:  # overridden by the RPC layer (rpc.RpcOcppServer)
        pass

    async def stopped(self) -> None:
        """Shutdown: the message log written (overridden by the RPC layer, which calls this too)."""
        await self.message_log.close()

    async def on_connect(self, identity: str) -> None:
        pass

    async def on_disconnect(self, identity: str) -> None:
        pass

    async def serve(self, host: str, port: int, *, ssl: ssl_module.SSLContext | None = None) -> Server:
        """Listen on host:port: ws://, or wss:// with `ssl` (security profile 2: TLS + HTTP Basic)."""
        await self.release()
        return await serve(
            self.handler,
            host,
            port,
            subprotocols=PROTOCOLS,  # type: ignore[arg-type]
            process_request=self.process_request,
            ssl=ssl,
            open_timeout=float(getattr(settings, "OCPP_OPEN_TIMEOUT", 30)),
        )


def tls_context(certfile: str, keyfile: str | None = None) -> ssl_module.SSLContext:
    """The server side of security profile 2 (OCPP 1.6 security whitepaper / 2.0.1 A00.FR.3xx): TLS 1.2 or
    newer with the CSMS certificate (PEM; the key may be in the certificate file)."""
    context = ssl_module.SSLContext(ssl_module.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl_module.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context
