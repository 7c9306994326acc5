"""`manage.py ocpp_server`: the OCPP 1.6J / 2.0.1 WebSocket server (issue 16), ws://host:port/ocpp/<id>."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from chargepoints.ocpp_gateway.rpc import RpcOcppServer, redis_url
from chargepoints.ocpp_gateway.server import OcppServer, close_db_connections, tls_context

logger = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 10.0  # per shutdown step (closing sockets, unregistering, writing the log, closing the pool)


class Command(BaseCommand):
    help = "Run the OCPP 1.6J / 2.0.1 WebSocket server for charge points."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9000)
        parser.add_argument("--certfile", default="", help="PEM certificate: serve wss:// (security profile 2)")
        parser.add_argument("--keyfile", default="", help="PEM private key of --certfile (if not in it)")
        parser.add_argument(
            "--server-id",
            default=os.environ.get("OCPP_SERVER_ID", ""),
            help="Stable id of this process (default: OCPP_SERVER_ID, else <hostname>:<port>): at start, the "
            "charge points a crashed process with the same id held are marked disconnected",
        )

    def handle(
        self, *args: Any, host: str, port: int, server_id: str, certfile: str, keyfile: str, **options: Any
    ) -> None:
        if keyfile and not certfile:
            raise CommandError("--keyfile needs --certfile")
        context = tls_context(certfile, keyfile or None) if certfile else None
        asyncio.run(self._serve(host, port, server_id or f"{socket.gethostname()}:{port}", context))

    async def _serve(self, host: str, port: int, server_id: str, context: ssl.SSLContext | None = None) -> None:
        if redis_url():  # outbound calls from Django/Celery through Redis (chargepoints.ocpp_gateway.rpc)
            server: OcppServer = RpcOcppServer(redis_url=redis_url(), server_id=server_id)
        else:
            server = OcppServer(server_id=server_id)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._on_signal, stop, signum)
        ws_server = await server.serve(host, port, ssl=context)
        scheme = "wss" if context else "ws"
        self.stdout.write(f"OCPP server {server.server_id} on {scheme}://{host}:{port}/ocpp/<charge_point_id>")
        await server.started()
        try:
            await stop.wait()
        finally:
            await self._shutdown(server, ws_server)

    def _on_signal(self, stop: asyncio.Event, signum: int) -> None:
        """First SIGINT/SIGTERM: stop gracefully (bounded by SHUTDOWN_SECONDS); a second one: exit at once."""
        if stop.is_set():
            logger.warning("Second %s: exiting now", signal.Signals(signum).name)
            os._exit(1)
        logger.info("%s: stopping the OCPP server", signal.Signals(signum).name)
        stop.set()

    async def _shutdown(self, server: OcppServer, ws_server: Any) -> None:
        """Close the sockets (charge points reconnect elsewhere), unregister, write the message log, close the
        database connections; each step bounded so that a connect storm or a stuck query cannot hang the exit."""
        ws_server.close()  # refuses new connections and closes every open one (close handshake, 1001)
        for step, timeout in (
            (ws_server.wait_closed(), SHUTDOWN_SECONDS),
            (server.stopped(), SHUTDOWN_SECONDS),
            (close_db_connections(), SHUTDOWN_SECONDS),
        ):
            try:
                await asyncio.wait_for(step, timeout)
            except TimeoutError:
                logger.warning("OCPP server shutdown: %s took longer than %s s, skipped", step, timeout)
            except Exception:
                logger.exception("OCPP server shutdown step failed")
