"""The one fake OCPI partner of the tests: a live HTTP platform on a real loopback socket.

Every request it gets is recorded (`fake.requests`, oldest first) before it is answered. What it answers:

- versions, version details (`modules`: its endpoints) and credentials POST/PUT/DELETE, calling our versions back
  during a POST/PUT with the token we gave it, the way a real platform registers (`call_back`);
- its Sender lists (`objects[module]`: GET `<prefix>/<module>` with offset/limit/date_from/date_to, `Link`,
  `X-Total-Count`, `X-Limit`; `page_cap`, `fail_once[(module, offset)]`, `after_page`);
- as a CDRs Receiver that stores (`cdr_store=True`): 201 + `Location` for a new CDR, 200 + the same `Location` for a
  known one, GET of that URL;
- as a Tokens Sender answering real-time authorization (`authorize=`, tokens.md 3.1.3): POST
  `<prefix>/tokens/{uid}/authorize` gets an AuthorizationInfo with that AllowedType (`authorization_info()`),
  404 + 2004 for "UNKNOWN", an allowed value no AllowedType has for "INVALID", or `authorize` itself when a dict;
- as a Hub (`behind={(cc, pid): FakePartner}`): forwards each request to the Receiver of the party in OCPI-to-*,
  TO = the Hub itself is a Broadcast Push, an unknown party gets 4001, no TO headers 4000;
- `responses[path prefix] = (http_status, body[, headers])` for anything else (a bytes body is sent as it is, any
  other is JSON; `headers` are added to the answer), and OCPI 1000 without data by default.

It checks the token we present (`valid_tokens`; `check_token=False` accepts any) and misbehaves on demand:

    fake.fail(503, times=3)             # the next 3 requests get HTTP 503 (then normal again)
    fake.fail(429, retry_after=120)     # every request gets 429 + Retry-After until fake.heal()
    fake.hang() / fake.heal()           # requests block until heal() (the client times out)
    fake.stall(2.0, times=1)            # handled (e.g. stored) but answered 2 s late
    fake.delay = 0.2                    # every answer 0.2 s late
    fake.down() / fake.up()             # stop listening (connection refused) / listen again, same port
    fake.phase("500" | "429" | "timeout" | "refused" | "ok")   # named outage phases of the fault suite

URLs: `url(module)` is `<base><prefix>/<module>` (prefix `/ocpi/emsp/2.2.1` by default; `/ocpi/cpo/2.2.1` for a
partner CPO's Senders, `/ocpi/hub/2.2.1` for a Hub); `url(identifier, role, version)` is the endpoint it announces
in its version details (`/ocpi/<version>/<role>/<identifier>`). It speaks each version of `versions` (2.1.1, 2.2.1,
2.3.0): version details and credentials in that version's shape; what it records is what it was sent.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests as http
from requests.structures import CaseInsensitiveDict

from ocpi_platform.ocpi.fields import parse_datetime

TIMESTAMP = "2026-01-01T00:00:00Z"
SENDER_MODULES = ("locations", "tariffs", "sessions", "cdrs")

Answer = tuple[int, bytes, dict[str, str]]  # HTTP status, body, extra headers


@dataclass
class Received:
    """One request the fake partner got. `headers` are case-insensitive."""

    method: str
    path: str
    headers: CaseInsensitiveDict[str]
    body: Any
    at: float  # time.monotonic() when the request arrived
    answered: int | None = None  # HTTP status answered (None: no answer)
    hung: bool = False  # held by hang(): the client most likely timed out before the answer

    @property
    def module(self) -> str:
        """The last path segment: the module of a Sender list request."""
        return urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}


def envelope(status_code: int = 1000, data: Any = None, message: str | None = None) -> bytes:
    body: dict[str, Any] = {"status_code": status_code}
    if message is not None:
        body["status_message"] = message
    body["timestamp"] = TIMESTAMP
    if data is not None:
        body["data"] = data
    return json.dumps(body).encode()


@dataclass
class FakePartner:
    # Who it is: its roles (credentials answer), its endpoints (version details), its versions.
    roles: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"role": "EMSP", "country_code": "DE", "party_id": "EMP", "business_details": {"name": "Fake eMSP"}}
        ]
    )
    modules: list[tuple[str, str]] = field(
        default_factory=lambda: [("locations", "RECEIVER"), ("tokens", "SENDER"), ("cdrs", "RECEIVER")]
    )
    versions: list[str] = field(default_factory=lambda: ["2.1.1", "2.2.1"])
    prefix: str = "/ocpi/emsp/2.2.1"
    # The token we present (token A before registration); check_token=False accepts any token.
    token_a: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    check_token: bool = True
    call_back: bool = True  # during a credentials POST/PUT, call our versions back with our token
    requests: list[Received] = field(default_factory=list)
    responses: dict[str, tuple[int, Any]] = field(default_factory=dict)
    # Sender lists: module -> objects served; (module, offset) -> HTTP status answered once; hook after a page.
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail_once: dict[tuple[str, int], int] = field(default_factory=dict)
    after_page: Callable[[str, int], None] | None = None
    page_cap: int = 1000
    # CDRs Receiver that stores: (country_code, party_id, id) -> CDR.
    cdr_store: bool = False
    stored: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    # Tokens Sender: the real-time authorization answer (None: not served).
    authorize: str | dict[str, Any] | None = None
    # Hub: the parties behind it and its own party.
    behind: dict[tuple[str, str], FakePartner] = field(default_factory=dict)
    party: tuple[str, str] = ("DE", "HUB")
    delay: float = 0.0

    def __post_init__(self) -> None:
        self.valid_tokens = {self.token_a}
        self.token_for_us: str | None = None  # the token we gave it (B): it uses it to call us
        self.registered_version: str | None = None  # the version of the credentials endpoint we called
        self.current = "ok"
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self._status: int | None = None  # failure status, None = normal answers
        self._times: int | None = None  # how many more failures (None: until heal())
        self._retry_after: str | None = None
        self._ocpi_status = 1000
        self._stall_seconds = 0.0
        self._stall_times = 0
        self._port = 0
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()  # open client connections (kept alive between requests)
        self.up()

    # --- addresses ------------------------------------------------------------------------------

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def versions_url(self) -> str:
        return f"{self.base}/ocpi/versions"

    @property
    def token(self) -> str:
        """The token we present to it (a partner CPO we pull from)."""
        return self.token_a

    def url(self, module: str, role: str | None = None, version: str = "2.2.1") -> str:
        if role is not None:
            return f"{self.base}/ocpi/{version}/{role.lower()}/{module}"
        return f"{self.base}{self.prefix}/{module}"

    def endpoints(self, *modules: str) -> list[tuple[str, str, str]]:
        """(module, SENDER, url) of its Sender lists, for make_registered_partner."""
        return [(m, "SENDER", self.url(m)) for m in modules or SENDER_MODULES]

    def location_of(self, key: tuple[str, str, str]) -> str:
        return f"{self.url('cdrs')}/{list(self.stored).index(key) + 1}"

    @property
    def speaks_only_211(self) -> bool:
        """A 2.1.1-only platform: it reads the token as sent (2.2 introduced the Base64 encoding)."""
        return self.versions == ["2.1.1"]

    # --- control --------------------------------------------------------------------------------

    def fail(
        self, status: int, *, times: int | None = None, retry_after: int | None = None, ocpi_status: int = 2001
    ) -> None:
        with self._lock:
            self._status, self._times = status, times
            self._retry_after = str(retry_after) if retry_after is not None else None
            self._ocpi_status = ocpi_status

    def stall(self, seconds: float, *, times: int) -> None:
        with self._lock:
            self._stall_seconds, self._stall_times = seconds, times

    def hang(self) -> None:
        self._released.clear()

    def heal(self) -> None:
        with self._lock:
            self._status = self._times = self._retry_after = None
        self._released.set()

    def phase(self, name: str, *, retry_after: int = 3) -> None:
        """Switch to an outage phase (or "ok"). Requests hanging from a "timeout" phase are released only
        after the new behaviour is in place (they are marked hung and never count as applied)."""
        if name == "refused":
            self.down()
            self.current = name
            return
        if self._server is None:
            self.up()
        with self._lock:
            self._status = self._times = self._retry_after = None
            if name == "500":
                self._status, self._ocpi_status = 500, 3000
            elif name == "429":
                self._status, self._ocpi_status, self._retry_after = 429, 2000, str(retry_after)
            elif name not in ("ok", "timeout"):
                raise ValueError(name)
        if name == "timeout":
            self._released.clear()
        else:
            self._released.set()
        self.current = name

    def down(self) -> None:
        """Stop listening and drop every open connection, like a platform that went down (a client's kept-alive
        connection must not go on being answered)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def up(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler(self))
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self._released.set()
        self.down()

    # --- inspection -----------------------------------------------------------------------------

    def ok(self, method: str | None = None) -> list[Received]:
        """Requests answered with success, oldest first."""
        return [r for r in self.requests if r.answered == 200 and not r.hung and (method is None or r.method == method)]

    @property
    def posts(self) -> list[Received]:
        return [r for r in self.requests if r.method == "POST"]

    def offsets(self, module: str) -> list[int]:
        return [int(r.query.get("offset", 0)) for r in self.requests if r.module == module]

    def to_parties(self) -> list[tuple[str, str]]:
        return [
            (r.headers.get("ocpi-to-country-code", ""), r.headers.get("ocpi-to-party-id", "")) for r in self.requests
        ]

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.05)
        return False

    # --- answers --------------------------------------------------------------------------------

    def answer(self, record: Received, raw: bytes) -> Answer:
        """The answer to one request (after hang/delay): the first behaviour that applies."""
        if self.delay:
            time.sleep(self.delay)
        if self.check_token and _token(record.headers, raw_only=self.speaks_only_211) not in self.valid_tokens:
            return 401, envelope(2000), {}
        failed = self._failure()
        if failed is not None:
            return failed
        path = record.path.split("?")[0]
        for prefix, (status, body, *headers) in self.responses.items():
            if path.startswith(prefix):
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                return status, payload, dict(headers[0]) if headers else {}
        for route in (self._hub, self._configuration, self._sender_list, self._authorize, self._cdrs):
            answer = route(record, path, raw)
            if answer is not None:
                return answer
        return 200, envelope(), {}

    def _failure(self) -> Answer | None:
        with self._lock:
            if self._status is None:
                return None
            status, ocpi, retry_after = self._status, self._ocpi_status, self._retry_after
            if self._times is not None:
                self._times -= 1
                if self._times <= 0:
                    self._status = self._times = self._retry_after = None
        return status, envelope(ocpi), {"Retry-After": retry_after} if retry_after else {}

    def _configuration(self, record: Received, path: str, raw: bytes) -> Answer | None:
        """Versions, version details and credentials, in each version of `versions` (2.1.1: endpoints without a
        role, one per module; a Credentials object with one party, the first of `roles`; the token unencoded)."""
        if path == "/ocpi/versions":
            return 200, envelope(data=[{"version": v, "url": f"{self.base}/ocpi/{v}"} for v in self.versions]), {}
        version = path.split("/")[2] if path.count("/") >= 2 else ""
        if version not in self.versions or version not in ("2.1.1", "2.2.1", "2.3.0"):
            return None
        if path == f"/ocpi/{version}":
            credentials = f"{self.base}/ocpi/{version}/credentials"
            endpoints = [{"identifier": "credentials", "role": "SENDER", "url": credentials}]
            endpoints += [{"identifier": i, "role": r, "url": self.url(i, r, version)} for i, r in self.modules]
            if version == "2.1.1":
                endpoints = [{"identifier": e["identifier"], "url": e["url"]} for e in endpoints]
            return 200, envelope(data={"version": version, "endpoints": endpoints}), {}
        if path != f"/ocpi/{version}/credentials":
            return None
        if record.method in ("POST", "PUT"):
            self.token_for_us = record.body["token"]
            self.registered_version = version
            if self.call_back:
                token = record.body["token"]
                encoded = token if version == "2.1.1" else base64.b64encode(token.encode()).decode()
                headers = {"Authorization": "Token " + encoded}
                versions = http.get(record.body["url"], headers=headers, timeout=5).json()
                details = next(v["url"] for v in versions["data"] if v["version"] == version)
                http.get(details, headers=headers, timeout=5).raise_for_status()
            new_token = secrets.token_urlsafe(16)
            self.valid_tokens = {new_token}
            ours: dict[str, Any] = {"token": new_token, "url": self.versions_url, "roles": self.roles}
            if version == "2.1.1":
                first = self.roles[0]
                ours = {"token": new_token, "url": self.versions_url}
                ours |= {k: first[k] for k in ("business_details", "party_id", "country_code")}
            return 200, envelope(data=ours), {}
        if record.method == "DELETE":
            self.valid_tokens = set()
            return 200, envelope(), {}
        return None

    def _sender_list(self, record: Received, path: str, raw: bytes) -> Answer | None:
        if record.method != "GET" or not path.startswith(f"{self.prefix}/") or record.module not in self.objects:
            return None
        module, query = record.module, record.query
        offset = int(query.get("offset", 0))
        status = self.fail_once.pop((module, offset), None)
        if status is not None:
            return status, envelope(3000), {}
        page, headers = self.page(module, query)
        if self.after_page is not None:  # before answering: the client's next request sees the change
            self.after_page(module, offset)
        return 200, envelope(data=page), headers

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

    def _cdrs(self, record: Received, path: str, raw: bytes) -> Answer | None:
        if not self.cdr_store:
            return None
        if record.method == "POST":
            body = record.body
            with self._lock:
                key = (body["country_code"].upper(), body["party_id"].upper(), body["id"].upper())
                created = key not in self.stored
                if created:
                    self.stored[key] = body
                location = self.location_of(key)
            return (201 if created else 200), envelope(), {"Location": location}
        number = path.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            bodies = list(self.stored.values())
        if record.method == "GET" and number.isdigit() and 0 < int(number) <= len(bodies):
            return 200, envelope(data=bodies[int(number) - 1]), {}
        return 404, envelope(2000), {}

    def authorization_info(self, uid: str, token_type: str = "RFID", location: Any = None) -> dict[str, Any]:
        """The AuthorizationInfo it answers for `authorize` = an AllowedType: a token of its first role, valid only
        when ALLOWED, and the LocationReferences sent echoed when ALLOWED."""
        role = self.roles[0]
        cc, pid = role["country_code"], role["party_id"]
        token = {
            "country_code": cc,
            "party_id": pid,
            "uid": uid,
            "type": token_type,
            "contract_id": f"{cc}-{pid}-C00000001",
            "issuer": pid,
            "valid": self.authorize == "ALLOWED",
            "whitelist": "ALLOWED",
            "last_updated": TIMESTAMP,
        }
        info: dict[str, Any] = {"allowed": self.authorize, "token": token, "authorization_reference": f"{pid}-REF-1"}
        if location and self.authorize == "ALLOWED":
            info["location"] = location
        return info

    def _authorize(self, record: Received, path: str, raw: bytes) -> Answer | None:
        segments = path.rstrip("/").split("/")
        if (
            self.authorize is None
            or record.method != "POST"
            or not path.startswith(f"{self.prefix}/tokens/")
            or segments[-1] != "authorize"
        ):
            return None
        if self.authorize == "UNKNOWN":
            return 404, envelope(2004, message="Unknown token"), {}
        if self.authorize == "INVALID":
            return 200, envelope(data={"allowed": "MAYBE"}), {}
        if isinstance(self.authorize, dict):
            return 200, envelope(data=self.authorize), {}
        info = self.authorization_info(segments[-2], record.query.get("type", "RFID"), record.body)
        return 200, envelope(data=info), {}

    def _hub(self, record: Received, path: str, raw: bytes) -> Answer | None:
        if not self.behind:
            return None
        headers = record.headers
        to = (headers.get("ocpi-to-country-code", "").upper(), headers.get("ocpi-to-party-id", "").upper())
        if not all(to):
            return 200, envelope(4000, message="Missing OCPI-to-* headers"), {}
        module_path = path.split(f"{self.prefix}/", 1)[1]
        forwarded = {
            k.lower(): v
            for k, v in headers.items()
            if k.lower().startswith(("ocpi-", "x-", "authorization", "content-type"))
        }
        if to == self.party:  # Broadcast Push: to every party behind the Hub, FROM = the Hub
            for (cc, pid), target in self.behind.items():
                routed = {**forwarded, "ocpi-to-country-code": cc, "ocpi-to-party-id": pid}
                routed.update({"ocpi-from-country-code": self.party[0], "ocpi-from-party-id": self.party[1]})
                http.request(record.method, target.url(module_path), data=raw or None, headers=routed, timeout=5)
            return 200, envelope(1000, message="Broadcast"), {}
        target = self.behind.get(to)
        if target is None:
            return 200, envelope(4001, message=f"Unknown receiver {to[0]}/{to[1]}"), {}
        answer = http.request(record.method, target.url(module_path), data=raw or None, headers=forwarded, timeout=5)
        extra = {"Location": answer.headers["Location"]} if "Location" in answer.headers else {}
        return answer.status_code, answer.content, extra

    def stalled(self) -> float:
        """Seconds to hold the answer that was just decided (stall(seconds, times=n))."""
        with self._lock:
            seconds = self._stall_seconds if self._stall_times > 0 else 0.0
            self._stall_times = max(0, self._stall_times - 1)
        return seconds


def _token(headers: CaseInsensitiveDict[str], *, raw_only: bool = False) -> str | None:
    """The token presented: Base64-decoded when it decodes (2.2+), as sent otherwise; `raw_only`: as sent (an
    OCPI 2.1.1 platform does not decode tokens)."""
    value = headers.get("Authorization", "")
    if not value.startswith("Token "):
        return None
    raw = value[6:]
    if raw_only:
        return raw
    try:
        return base64.b64decode(raw, validate=True).decode()
    except ValueError:
        return raw


def _handler(fake: FakePartner) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer goes out as two writes (headers, then body): with Nagle's algorithm the body waits for the
        # client's delayed ACK of the headers, 40 ms per request on Linux loopback. Real servers set TCP_NODELAY.
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def setup(self) -> None:
            super().setup()
            with fake._lock:
                fake._connections.add(self.connection)

        def finish(self) -> None:
            with fake._lock:
                fake._connections.discard(self.connection)
            super().finish()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            record = Received(
                method=self.command,
                path=self.path,
                headers=CaseInsensitiveDict(self.headers.items()),
                body=json.loads(raw) if raw else None,
                at=time.monotonic(),
            )
            with fake._lock:
                fake.requests.append(record)
            record.hung = not fake._released.is_set()
            if not fake._released.wait(timeout=60):
                return
            status, body, extra = fake.answer(record, raw)
            record.answered = status  # before the answer leaves: the test may look as soon as it arrives
            stall = fake.stalled() if status < 400 else 0.0
            if stall:
                time.sleep(stall)  # handled (e.g. stored), but the client has given up waiting for this answer
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                record.answered = None  # the client gave up (timeout)

        do_PUT = do_PATCH = do_POST = do_DELETE = do_GET = _serve  # noqa: N815

    return Handler
