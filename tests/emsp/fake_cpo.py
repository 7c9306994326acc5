"""A fake partner CPO platform on a real loopback HTTP server: its Sender lists (locations, tariffs, sessions,
cdrs) with offset/limit/date_from/date_to, `Link`, `X-Total-Count` and `X-Limit`, plus failure injection."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from ocpi_platform.ocpi.fields import parse_datetime

MODULES = ("locations", "tariffs", "sessions", "cdrs")


@dataclass
class Request:
    module: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeCpo:
    token: str = "token-we-present"
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {m: [] for m in MODULES})
    requests: list[Request] = field(default_factory=list)
    # (module, offset) -> HTTP status answered once (then the page is served normally).
    fail_once: dict[tuple[str, int], int] = field(default_factory=dict)
    # Called after a page was served: (module, offset) -> None (e.g. to remove objects mid-crawl).
    after_page: Callable[[str, int], None] | None = None
    page_cap: int = 1000

    def __post_init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/ocpi/cpo/2.2.1"

    def url(self, module: str) -> str:
        return f"{self.base}/{module}"

    def endpoints(self, *modules: str) -> list[tuple[str, str, str]]:
        return [(m, "SENDER", self.url(m)) for m in modules or MODULES]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def offsets(self, module: str) -> list[int]:
        return [int(r.query.get("offset", 0)) for r in self.requests if r.module == module]

    def page(self, module: str, query: dict[str, str]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        items = self.objects[module]
        if query.get("date_from"):
            date_from = parse_datetime(query["date_from"])
            items = [o for o in items if parse_datetime(o["last_updated"]) >= date_from]
        if query.get("date_to"):
            date_to = parse_datetime(query["date_to"])
            items = [o for o in items if parse_datetime(o["last_updated"]) < date_to]
        offset = int(query.get("offset", 0))
        limit = min(int(query.get("limit", self.page_cap)), self.page_cap)
        page = items[offset : offset + limit]
        headers = {"X-Total-Count": str(len(items)), "X-Limit": str(self.page_cap)}
        if offset + len(page) < len(items):
            following = {k: v for k, v in query.items() if k in ("date_from", "date_to")}
            following.update(offset=str(offset + len(page)), limit=str(limit))
            headers["Link"] = f'<{self.url(module)}?{urlencode(following)}>; rel="next"'
        return page, headers

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                module = parts.path.rstrip("/").rsplit("/", 1)[-1]
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.requests.append(Request(module, query, dict(self.headers.items())))
                expected = "Token " + base64.b64encode(fake.token.encode()).decode()
                if self.headers.get("Authorization") != expected:
                    self._send(401, {"status_code": 2000, "timestamp": "2026-01-01T00:00:00Z"})
                    return
                if module not in MODULES:
                    self._send(404, {"status_code": 2000, "timestamp": "2026-01-01T00:00:00Z"})
                    return
                offset = int(query.get("offset", 0))
                status = fake.fail_once.pop((module, offset), None)
                if status is not None:
                    self._send(status, {"status_code": 3000, "timestamp": "2026-01-01T00:00:00Z"})
                    return
                page, headers = fake.page(module, query)
                if fake.after_page is not None:  # before answering: the client's next request sees the change
                    fake.after_page(module, offset)
                self._send(200, {"data": page, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}, headers)

        return Handler
