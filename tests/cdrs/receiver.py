"""A partner eMSP's CDRs Receiver on a real loopback HTTP server (cdrs.md 3): stores POSTed CDRs by
(country_code, party_id, id), answers 201 + `Location` for a new one and 200 + the same `Location` for a
known one (idempotent), serves GET of that URL, fails on demand (`fail(503, times=3)`) without storing, and
stores but answers too late on demand (`stall(2.0, times=1)`: the sender times out after the CDR was stored).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: Any
    answered: int


@dataclass
class CdrReceiver:
    posts: list[Post] = field(default_factory=list)
    stored: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._fail_status: int | None = None
        self._fail_times = 0
        self._stall_seconds = 0.0
        self._stall_times = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base}/ocpi/emsp/2.2.1/cdrs"

    def location_of(self, key: tuple[str, str, str]) -> str:
        return f"{self.url}/{list(self.stored).index(key) + 1}"

    def fail(self, status: int, *, times: int) -> None:
        with self._lock:
            self._fail_status, self._fail_times = status, times

    def stall(self, seconds: float, *, times: int) -> None:
        with self._lock:
            self._stall_seconds, self._stall_times = seconds, times

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, ocpi_status: int, data: Any = None, location: str | None = None) -> None:
                envelope: dict[str, Any] = {"status_code": ocpi_status, "timestamp": "2026-01-01T00:00:00Z"}
                if data is not None:
                    envelope["data"] = data
                payload = json.dumps(envelope).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if location:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                headers = {k.lower(): v for k, v in self.headers.items()}
                with fake._lock:
                    if fake._fail_times > 0:
                        fake._fail_times -= 1
                        status = fake._fail_status or 503
                        fake.posts.append(Post(self.path, headers, body, status))
                        self._answer(status, 3000)
                        return
                    key = (body["country_code"].upper(), body["party_id"].upper(), body["id"].upper())
                    created = key not in fake.stored
                    if created:
                        fake.stored[key] = body
                    status = 201 if created else 200
                    fake.posts.append(Post(self.path, headers, body, status))
                    location = fake.location_of(key)
                    stall = fake._stall_seconds if fake._stall_times > 0 else 0.0
                    fake._stall_times = max(0, fake._stall_times - 1)
                if stall:
                    time.sleep(stall)  # stored, but the sender has given up waiting for this answer
                self._answer(status, 1000, location=location)

            def do_GET(self) -> None:
                number = self.path.rstrip("/").rsplit("/", 1)[-1]
                with fake._lock:
                    bodies = list(fake.stored.values())
                if number.isdigit() and 0 < int(number) <= len(bodies):
                    self._answer(200, 1000, bodies[int(number) - 1])
                else:
                    self._answer(404, 2000)

        return Handler
