"""A fake OCPI partner platform on a real loopback HTTP server, for outbound tests.

It serves versions, version details and a credentials endpoint, checks the token we present, calls our
versions back during a POST/PUT the way a real platform does, and records every request it receives.
Other endpoints answer from `responses` (path prefix -> (http_status, body)) or 1000 by default.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakePartner:
    roles: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"role": "EMSP", "country_code": "DE", "party_id": "EMP", "business_details": {"name": "Fake eMSP"}}
        ]
    )
    modules: list[tuple[str, str]] = field(
        default_factory=lambda: [("locations", "RECEIVER"), ("tokens", "SENDER"), ("cdrs", "RECEIVER")]
    )
    versions: list[str] = field(default_factory=lambda: ["2.1.1", "2.2.1"])
    token_a: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    requests: list[Recorded] = field(default_factory=list)
    responses: dict[str, tuple[int, Any]] = field(default_factory=dict)
    # What the partner does during a credentials POST: call our versions back with our token?
    call_back: bool = True

    def __post_init__(self) -> None:
        self.valid_tokens = {self.token_a}
        self.token_for_us: str | None = None  # the token we gave it (B): it uses it to call us
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def versions_url(self) -> str:
        return f"{self.base}/ocpi/versions"

    def url(self, identifier: str, role: str) -> str:
        return f"{self.base}/ocpi/2.2.1/{role.lower()}/{identifier}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _envelope(self, data: Any = None, status_code: int = 1000) -> dict[str, Any]:
        body: dict[str, Any] = {"status_code": status_code, "timestamp": "2026-01-01T00:00:00Z"}
        if data is not None:
            body["data"] = data
        return body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _token(self) -> str | None:
                value = self.headers.get("Authorization", "")
                if not value.startswith("Token "):
                    return None
                raw = value[6:]
                try:
                    return base64.b64decode(raw, validate=True).decode()
                except ValueError:
                    return raw

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append(Recorded(method, self.path, dict(self.headers.items()), body))
                if self._token() not in fake.valid_tokens:
                    self._send(401, fake._envelope(status_code=2000))
                    return
                path = self.path.split("?")[0]
                for prefix, (status, answer) in fake.responses.items():
                    if path.startswith(prefix):
                        self._send(status, answer)
                        return
                if path == "/ocpi/versions":
                    self._send(
                        200, fake._envelope([{"version": v, "url": f"{fake.base}/ocpi/{v}"} for v in fake.versions])
                    )
                elif path == "/ocpi/2.2.1":
                    endpoints = [
                        {"identifier": "credentials", "role": "SENDER", "url": f"{fake.base}/ocpi/2.2.1/credentials"}
                    ]
                    endpoints += [{"identifier": i, "role": r, "url": fake.url(i, r)} for i, r in fake.modules]
                    self._send(200, fake._envelope({"version": "2.2.1", "endpoints": endpoints}))
                elif path == "/ocpi/2.2.1/credentials" and method in ("POST", "PUT"):
                    fake.token_for_us = body["token"]
                    if fake.call_back:
                        headers = {"Authorization": "Token " + base64.b64encode(body["token"].encode()).decode()}
                        versions = requests.get(body["url"], headers=headers, timeout=5).json()
                        details_url = versions["data"][0]["url"]
                        requests.get(details_url, headers=headers, timeout=5).raise_for_status()
                    new_token = secrets.token_urlsafe(16)
                    fake.valid_tokens = {new_token}
                    self._send(200, fake._envelope({"token": new_token, "url": fake.versions_url, "roles": fake.roles}))
                elif path == "/ocpi/2.2.1/credentials" and method == "DELETE":
                    fake.valid_tokens = set()
                    self._send(200, fake._envelope())
                else:
                    self._send(200, fake._envelope())

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler
