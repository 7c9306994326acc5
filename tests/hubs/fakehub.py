"""A fake roaming Hub on a real loopback HTTP server, with eMSP platforms behind it.

Our platform pushes to the Hub's Receivers; the Hub reads OCPI-to-* and forwards the request (method, module
path, body, routing headers) to the Receiver of the addressed party, answering with that party's answer (plus its
Location header). TO = the Hub itself is a Broadcast Push: forwarded to every party behind it (TO = that party,
FROM = the Hub). A request for a party the Hub does not know gets OCPI 4001, one without TO headers 4000.
Every request the Hub gets is recorded in `hub.requests`; the parties behind it record theirs themselves.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from tests.outbox.receiver import FakeReceiver, Received


@dataclass
class FakeHub:
    behind: dict[tuple[str, str], FakeReceiver] = field(default_factory=dict)  # (cc, pid) -> its Receivers
    party: tuple[str, str] = ("DE", "HUB")
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, module: str) -> str:
        return f"{self.base}/ocpi/hub/2.2.1/{module}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def to_parties(self) -> list[tuple[str, str]]:
        return [
            (r.headers.get("ocpi-to-country-code", ""), r.headers.get("ocpi-to-party-id", "")) for r in self.requests
        ]

    def _forward(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, dict]:
        to = (headers.get("ocpi-to-country-code", "").upper(), headers.get("ocpi-to-party-id", "").upper())
        if not all(to):
            return 200, _envelope(4000, "Missing OCPI-to-* headers"), {}
        module_path = path.split("/ocpi/hub/2.2.1/", 1)[1]
        forwarded = {k: v for k, v in headers.items() if k.startswith(("ocpi-", "x-", "authorization", "content-type"))}
        if to == self.party:  # Broadcast Push
            for (cc, pid), target in self.behind.items():
                routed = {**forwarded, "ocpi-to-country-code": cc, "ocpi-to-party-id": pid}
                routed.update({"ocpi-from-country-code": self.party[0], "ocpi-from-party-id": self.party[1]})
                requests.request(
                    method, f"{target.base}/ocpi/emsp/2.2.1/{module_path}", data=raw or None, headers=routed, timeout=5
                )
            return 200, _envelope(1000, "Broadcast"), {}
        target = self.behind.get(to)
        if target is None:
            return 200, _envelope(4001, f"Unknown receiver {to[0]}/{to[1]}"), {}
        answer = requests.request(
            method, f"{target.base}/ocpi/emsp/2.2.1/{module_path}", data=raw or None, headers=forwarded, timeout=5
        )
        extra = {"Location": answer.headers["Location"]} if "Location" in answer.headers else {}
        return answer.status_code, answer.content, extra

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                record = Received(
                    method=self.command, path=self.path, headers=headers, body=json.loads(raw) if raw else None, at=0
                )
                with hub._lock:
                    hub.requests.append(record)
                status, body, extra = hub._forward(self.command, self.path, headers, raw)
                record.answered = status
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            do_PUT = do_PATCH = do_POST = do_DELETE = do_GET = _serve  # noqa: N815

        return Handler


def _envelope(status_code: int, message: str) -> bytes:
    return json.dumps(
        {"status_code": status_code, "status_message": message, "timestamp": "2026-01-01T00:00:00Z"}
    ).encode()
