"""Outbound OCPP calls through Redis (issue 16): Django/Celery -> the ocpp_server process holding the socket.

Keys (settings.OCPP_REDIS_URL, default REDIS_URL):
- hash `ocpp:connected`: charge point identity -> server_id, written by the server on connect/disconnect;
- list `ocpp:server:<server_id>:calls`: JSON {"id", "identity", "action", "payload", "timeout"} (payload in the
  `ocpp` library's snake_case field names), consumed by the server with BLPOP;
- list `ocpp:reply:<call id>`: the server RPUSHes {"status": "ok", "result": {...}} or {"status": "error",
  "error": "..."} and expires it after 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import uuid
from typing import Any

import redis
import redis.asyncio as aioredis
from django.conf import settings
from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from .server import OcppServer

logger = logging.getLogger(__name__)

CONNECTED = "ocpp:connected"
REPLY_TTL = 60
CONSUMER_POLL = 1  # seconds a BLPOP waits before the consumer looks at the closed flag again


def calls_key(server_id: str) -> str:
    return f"ocpp:server:{server_id}:calls"


def reply_key(call_id: str) -> str:
    return f"ocpp:reply:{call_id}"


def redis_url() -> str:
    return getattr(settings, "OCPP_REDIS_URL", "") or getattr(settings, "REDIS_URL", "")


# --- server side ---------------------------------------------------------------------------------------


class RpcOcppServer(OcppServer):
    """An OcppServer that registers its charge points in Redis and runs the calls queued for it."""

    def __init__(self, *, redis_url: str, server_id: str | None = None) -> None:
        super().__init__(server_id=server_id)
        self.redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        self._consumer: asyncio.Task[None] | None = None
        self._calls: set[asyncio.Task[None]] = set()
        self._closed = False

    async def release(self) -> None:
        await super().release()
        held = [cp for cp, sid in (await self.redis.hgetall(CONNECTED)).items() if sid == self.server_id]
        if held:  # a crashed process with this server id left them registered
            await self.redis.hdel(CONNECTED, *held)

    async def started(self) -> None:
        self._consumer = asyncio.create_task(self._consume())

    async def stopped(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._consumer is not None:
            # The consumer sees the flag within one BLPOP timeout. Cancelling a task blocked in a redis.asyncio
            # read can leave the connection's teardown waiting for ever, so cancel only as a last resort.
            try:
                await asyncio.wait_for(asyncio.shield(self._consumer), CONSUMER_POLL + 2)
            except TimeoutError:
                self._consumer.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(self._consumer, 2)
        # every charge point this server registered, even one whose handler was cancelled mid-disconnect
        held = [cp for cp, sid in (await self.redis.hgetall(CONNECTED)).items() if sid == self.server_id]
        if held:
            await self.redis.hdel(CONNECTED, *held)
        await self.redis.aclose()
        await super().stopped()

    async def on_connect(self, identity: str) -> None:
        await self.redis.hset(CONNECTED, identity, self.server_id)

    async def on_disconnect(self, identity: str) -> None:
        if self._closed:  # stopped() unregistered everything
            return
        if await self.redis.hget(CONNECTED, identity) == self.server_id:
            await self.redis.hdel(CONNECTED, identity)

    async def _consume(self) -> None:
        key = calls_key(self.server_id)
        while not self._closed:
            item = await self.redis.blpop([key], timeout=CONSUMER_POLL)
            if item is None:
                continue
            if self._closed:  # stopped while waiting: leave the request for whoever takes this server id next
                await self.redis.lpush(key, item[1])
                return
            try:
                request = json.loads(item[1])
            except ValueError:
                logger.warning("Bad OCPP RPC request %r", item[1][:200])
                continue
            task = asyncio.create_task(self._run(request))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)

    async def _run(self, request: dict[str, Any]) -> None:
        reply = await self.execute(
            request.get("identity", ""),
            request.get("action", ""),
            request.get("payload") or {},
            float(request.get("timeout") or 30),
        )
        key = reply_key(str(request.get("id")))
        await self.redis.rpush(key, json.dumps(reply, default=str))
        await self.redis.expire(key, REPLY_TTL)

    async def execute(self, identity: str, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
        """One CALL on the charge point's socket; the answer's fields in snake_case."""
        cp = self.connections.get(identity)
        if cp is None:
            return {"status": "not_connected"}
        module = call16 if cp.protocol == "ocpp1.6" else call201
        cls = getattr(module, action, None)
        if cls is None:
            return {"status": "error", "error": f"unknown action {action} for {cp.protocol}"}
        try:
            result = await asyncio.wait_for(cp.call(cls(**payload), suppress=False), timeout)
        except TimeoutError:
            return {"status": "timeout"}
        except OCPPError as exc:
            return {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        except TypeError as exc:  # payload fields that the action does not have
            return {"status": "error", "error": str(exc)}
        return {"status": "ok", "result": dataclasses.asdict(result)}


# --- Django side ---------------------------------------------------------------------------------------


def _client() -> redis.Redis:
    return redis.Redis.from_url(redis_url(), decode_responses=True)


def connected_server(identity: str) -> str | None:
    """The server_id holding the charge point's socket (None: not connected or no Redis)."""
    if not redis_url():
        return None
    return _client().hget(CONNECTED, identity)  # type: ignore[return-value]


def call_charge_point(identity: str, action: str, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """Send one OCPP CALL (the `ocpp` library's class name and snake_case fields) to a connected charge point
    and wait for its answer: the CALLRESULT's fields, {"error": ...} for a CallError, None when the charge point
    is not connected or did not answer within `timeout` seconds. Never call it inside a database transaction."""
    if not redis_url():
        return None
    client = _client()
    server_id = client.hget(CONNECTED, identity)
    if not server_id:
        return None
    call_id = uuid.uuid4().hex
    request = {"id": call_id, "identity": identity, "action": action, "payload": payload, "timeout": timeout}
    client.rpush(calls_key(str(server_id)), json.dumps(request, default=str))
    answer = client.blpop([reply_key(call_id)], timeout=max(1, math.ceil(timeout) + 1))
    if answer is None:
        return None
    reply = json.loads(answer[1])
    if reply.get("status") == "ok":
        return reply["result"]
    if reply.get("status") == "error":
        return {"error": reply.get("error", "")}
    return None
