"""A tiny OCPI Receiver on a real loopback HTTP server: records every request and misbehaves on demand.

receiver = FakeReceiver()
receiver.fail(503, times=3)            # the next 3 requests get HTTP 503 (then normal again)
receiver.fail(429, retry_after=120)    # every request gets 429 + Retry-After until receiver.heal()
receiver.hang()                        # requests block until receiver.heal() (client times out)
receiver.down() / receiver.up()        # stop listening (connection refused) / listen again, same port
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float  # time.monotonic() when the request arrived
    answered: int | None = None  # HTTP status we answered (None: no answer)
    hung: bool = False  # held by hang(): the client most likely timed out before the answer


@dataclass
class FakeReceiver:
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self._status: int | None = None  # failure status, None = answer 1000
        self._times: int | None = None  # how many more failures (None: until heal())
        self._retry_after: str | None = None
        self._ocpi_status = 1000
        self._port = 0
        self._server: ThreadingHTTPServer | None = None
        self.up()

    # --- control --------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def url(self, module: str) -> str:
        return f"{self.base}/ocpi/emsp/2.2.1/{module}"

    def fail(
        self, status: int, *, times: int | None = None, retry_after: int | None = None, ocpi_status: int = 2001
    ) -> None:
        with self._lock:
            self._status, self._times = status, times
            self._retry_after = str(retry_after) if retry_after is not None else None
            self._ocpi_status = ocpi_status

    def hang(self) -> None:
        self._released.clear()

    def heal(self) -> None:
        with self._lock:
            self._status = self._times = self._retry_after = None
        self._released.set()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def up(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), self._handler())
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._released.set()
        self.down()

    # --- inspection -----------------------------------------------------------------------------

    def ok(self, method: str | None = None) -> list[Received]:
        """Requests answered with success, oldest first."""
        return [r for r in self.requests if r.answered == 200 and not r.hung and (method is None or r.method == method)]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return False

    # --- server ---------------------------------------------------------------------------------

    def _decide(self) -> tuple[int, int, str | None]:
        with self._lock:
            if self._status is None:
                return 200, 1000, None
            status, ocpi, retry_after = self._status, self._ocpi_status, self._retry_after
            if self._times is not None:
                self._times -= 1
                if self._times <= 0:
                    self._status = self._times = self._retry_after = None
            return status, ocpi, retry_after

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                record = Received(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=json.loads(raw) if raw else None,
                    at=time.monotonic(),
                )
                with fake._lock:
                    fake.requests.append(record)
                record.hung = not fake._released.is_set()
                if not fake._released.wait(timeout=60):
                    return
                status, ocpi, retry_after = fake._decide()
                body = json.dumps({"status_code": ocpi, "timestamp": "2026-01-01T00:00:00Z"}).encode()
                record.answered = status  # before the answer leaves: the test may look as soon as it arrives
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    if retry_after:
                        self.send_header("Retry-After", retry_after)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    record.answered = None  # the client gave up (timeout)

            do_PUT = do_PATCH = do_POST = do_DELETE = do_GET = _serve  # noqa: N815

        return Handler
