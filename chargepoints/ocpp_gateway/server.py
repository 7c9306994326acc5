"""The OCPP-J WebSocket server (issue 16): ws://host/ocpp/<charge_point_id>, subprotocols ocpp1.6 / ocpp2.0.1.

Security profile 1 (OCPP 1.6 security whitepaper / 2.0.1 A00.FR.2xx): HTTP Basic auth, the password checked
against ChargePoint.password_hash before the upgrade (unknown or wrong -> 401); profile 2: the same over TLS
(wss://, `serve(ssl=tls_context(certfile, keyfile))`). One `ocpp` library
ChargePoint subclass per protocol; their handlers call `handlers` (Django ORM) through sync_to_async.
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl as ssl_module
import time
import uuid
from http import HTTPStatus
from typing import Any

from asgiref.sync import sync_to_async
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


def db(func):
    """Run ORM code in asgiref's one sync thread; its connection is dropped when broken or past CONN_MAX_AGE
    (the server lives long, like a web worker's request cycle would do)."""

    def run(*args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        return func(*args, **kwargs)

    return sync_to_async(run, thread_sensitive=True)


async def close_db_connections() -> None:
    """Close the sync thread's connections (shutdown, tests)."""
    await sync_to_async(connections.close_all, thread_sensitive=True)()


def _now() -> str:
    from django.utils import timezone

    return timezone.now().isoformat().replace("+00:00", "Z")


SEEN_WRITE_SECONDS = 30  # last_seen_at is written at most this often per connection


class LoggingMixin:
    """Every frame in and out stored as an OcppMessage; last_seen_at kept (throttled)."""

    id: str
    _pending_actions: dict[str, str]
    _seen_written: float = 0.0

    async def route_message(self, raw_msg: str) -> None:
        now = time.monotonic()
        if now - self._seen_written >= SEEN_WRITE_SECONDS:
            self._seen_written = now
            await db(handlers.seen)(self.id)
        hint = ""
        try:
            import json

            frame = json.loads(raw_msg)
            if frame[0] in (3, 4):
                hint = self._pending_actions.pop(str(frame[1]), "")
        except (ValueError, IndexError, TypeError, KeyError):
            pass
        await db(handlers.log_message)(self.id, raw_msg, "IN", hint)
        await super().route_message(raw_msg)  # type: ignore[misc]

    async def _send(self, message: str) -> None:
        import json

        try:
            frame = json.loads(message)
            if frame[0] == 2:
                self._pending_actions[str(frame[1])] = frame[2]
        except (ValueError, IndexError, TypeError):
            pass
        await db(handlers.log_message)(self.id, message, "OUT")
        await super()._send(message)  # type: ignore[misc]


class OcppV16(LoggingMixin, ChargePoint16):
    """OCPP 1.6J Central System side."""

    protocol = "ocpp1.6"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending_actions = {}

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
        auth = await db(handlers.authorize)(self.id, id_tag)
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
        self._pending_actions = {}

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
        auth = await db(handlers.authorize)(self.id, id_token["id_token"])
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
            )
            await db(handlers.transaction_meter)(self.id, tx_id, readings[1:])
            return result201.TransactionEvent(id_token_info={"status": status})
        if event_type == "Updated":
            await db(handlers.transaction_meter)(self.id, tx_id, readings)
            return result201.TransactionEvent()
        await db(handlers.transaction_stop)(self.id, tx_id, timestamp=timestamp, meter_stop_wh=None, readings=readings)
        return result201.TransactionEvent()


HANDLERS: dict[str, type[OcppV16] | type[OcppV201]] = {"ocpp1.6": OcppV16, "ocpp2.0.1": OcppV201}


class OcppServer:
    """One server process: accepts charge points, keeps `connections` (identity -> handler) for the RPC."""

    def __init__(self, *, server_id: str | None = None) -> None:
        self.server_id = server_id or uuid.uuid4().hex
        self.connections: dict[str, OcppV16 | OcppV201] = {}

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
        if not await db(handlers.authenticate)(identity, password):
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp"'
            return response
        return None

    async def handler(self, connection: ServerConnection) -> None:
        identity = self.identity_of(connection.request.path)  # type: ignore[union-attr]
        protocol = connection.subprotocol
        if identity is None or protocol not in HANDLERS:
            await connection.close(1002, "subprotocol ocpp1.6 or ocpp2.0.1 required")
            return
        cp = HANDLERS[protocol](identity, connection)
        previous = self.connections.get(identity)
        self.connections[identity] = cp
        await db(handlers.mark_connected)(identity, protocol=protocol, server_id=self.server_id, connected=True)
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
        pass

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
        )


def tls_context(certfile: str, keyfile: str | None = None) -> ssl_module.SSLContext:
    """The server side of security profile 2 (OCPP 1.6 security whitepaper / 2.0.1 A00.FR.3xx): TLS 1.2 or
    newer with the CSMS certificate (PEM; the key may be in the certificate file)."""
    context = ssl_module.SSLContext(ssl_module.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl_module.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    return context
