"""An in-process OCPP server (asyncio loop in a thread, free port) and `ocpp` library charge point clients."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Coroutine
from typing import Any

import websockets
from ocpp.v16 import ChargePoint as Client16
from ocpp.v201 import ChargePoint as Client201

from chargepoints.ocpp_gateway.server import OcppServer, close_db_connections

PASSWORD = "cp-secret-123"


class ServerThread:
    def __init__(self, server: OcppServer | None = None, ssl: Any = None) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.ocpp = server or OcppServer(server_id="test-server")
        self.scheme = "wss" if ssl else "ws"
        self.server = self.run(self.ocpp.serve("127.0.0.1", 0, ssl=ssl))
        self.port = next(iter(self.server.sockets)).getsockname()[1]
        self.run(self.ocpp.started())

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 15) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def url(self, identity: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/ocpp/{identity}"

    def stop(self) -> None:
        async def close() -> None:
            await self.ocpp.stopped()
            self.server.close()
            await self.server.wait_closed()
            await close_db_connections()

        self.run(close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def basic(identity: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{identity}:{password}".encode()).decode()}


class Connected:
    """An `ocpp` library client connected to the server; `call` runs one CALL from the test thread."""

    def __init__(
        self,
        srv: ServerThread,
        identity: str,
        protocol: str,
        password: str = PASSWORD,
        cls: type | None = None,
        ssl: Any = None,
    ) -> None:
        self.srv = srv
        cls = cls or (Client16 if protocol == "ocpp1.6" else Client201)

        async def connect() -> Any:
            ws = await websockets.connect(
                srv.url(identity),
                subprotocols=[protocol],
                additional_headers=basic(identity, password),
                **({"ssl": ssl} if ssl is not None else {}),
            )
            client = cls(identity, ws)
            self.task = asyncio.ensure_future(client.start())
            return ws, client

        self.ws, self.client = srv.run(connect())

    def call(self, payload: Any) -> Any:
        return self.srv.run(self.client.call(payload))

    def raw(self, frame: str) -> str:
        async def exchange() -> str:
            self.task.cancel()  # read the answer ourselves
            await self.ws.send(frame)
            return await asyncio.wait_for(self.ws.recv(), 10)

        return self.srv.run(exchange())

    def close(self) -> None:
        async def close() -> None:
            self.task.cancel()
            await self.ws.close()

        self.srv.run(close())
