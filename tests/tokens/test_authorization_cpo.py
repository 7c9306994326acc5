"""CPO side of real-time authorization (tokens.md 5 WhitelistType, 6): token_authorize_at_charge_point.

The owning eMSP is a fake on a real loopback HTTP server that answers ALLOWED / BLOCKED / 404+2004, sleeps past
our timeout, or is not listening at all (connection refused). One test talks to our own eMSP endpoint through
pytest-django's live_server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ocpi_platform.ocpi.tokens import token_encode_header
from partners.models import MessageLog, PartnerState
from tests.conftest import make_registered_partner
from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import TokenAuthorization, TokenType, WhitelistType
from tokens.services import token_authorize_at_charge_point

UID = "04CAFE0001"
OUTBOUND_TOKEN = "token-we-present-to-emp"


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeEmsp:
    """A partner eMSP's Tokens Sender. `mode`: ALLOWED, BLOCKED, UNKNOWN (404/2004), SLOW, INVALID, or a dict."""

    mode: Any = "ALLOWED"
    delay: float = 10.0
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def tokens_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/ocpi/emsp/2.2.1/tokens"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def answer(self, uid: str, query: dict[str, list[str]], body: Any) -> tuple[int, dict[str, Any]]:
        if self.mode == "UNKNOWN":
            return 404, {"status_code": 2004, "status_message": "Unknown token", "timestamp": "2026-01-01T00:00:00Z"}
        if self.mode == "INVALID":
            return 200, {"data": {"allowed": "MAYBE"}, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}
        if isinstance(self.mode, dict):
            data = self.mode
        else:
            token = {
                "country_code": "DE",
                "party_id": "EMP",
                "uid": uid,
                "type": query.get("type", ["RFID"])[0],
                "contract_id": "DE-EMP-C00000001",
                "issuer": "EMP",
                "valid": self.mode == "ALLOWED",
                "whitelist": "ALLOWED",
                "last_updated": "2026-01-01T00:00:00Z",
            }
            data = {"allowed": self.mode, "token": token, "authorization_reference": "EMP-REF-1"}
            if body and self.mode == "ALLOWED":
                data["location"] = body
        return 200, {"data": data, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                body = json.loads(raw) if raw else None
                fake.seen.append(Seen(parts.path, query, dict(self.headers.items()), body))
                if fake.mode == "SLOW":
                    fake.release.wait(fake.delay)
                uid = parts.path.rstrip("/").split("/")[-2]
                status, payload = fake.answer(uid, query, body)
                out = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except OSError:
                    pass  # the client gave up (timeout)

        return Handler


@pytest.fixture
def fake_emsp() -> Iterator[FakeEmsp]:
    fake = FakeEmsp()
    yield fake
    fake.stop()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL nobody listens on: connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/ocpi/emsp/2.2.1/tokens"


def _emsp(url: str) -> Any:
    return make_registered_partner(
        "EMP platform", [("EMSP", "DE", "EMP")], [("tokens", "SENDER", url)], outbound_token=OUTBOUND_TOKEN
    ).partner


@pytest.fixture
def emp(fake_emsp: FakeEmsp, db: Any) -> Any:
    return _emsp(fake_emsp.tokens_url)


def authorize(**kwargs: Any) -> Any:
    params = {
        "country_code": "DE",
        "party_id": "EMP",
        "uid": UID,
        "type": TokenType.RFID,
        "location_id": "LOC1",
        "evse_uid": "BE*CPX*E1",
        "timeout": 0.5,
    }
    params.update(kwargs)
    return token_authorize_at_charge_point(**params)


# --- each whitelist type against each eMSP behaviour ------------------------------------------------

# eMSP behaviour -> expected (allowed, status, source) per whitelist type of the cached token (None: not cached).
ALLOWED_REALTIME = (True, "ALLOWED", "REALTIME")
BLOCKED_REALTIME = (False, "BLOCKED", "REALTIME")
UNKNOWN_REALTIME = (False, "UNKNOWN", "REALTIME")
LOCAL_ALLOWED = (True, "ALLOWED", "LOCAL")
FALLBACK_ALLOWED = (True, "ALLOWED", "FALLBACK")
FALLBACK_DENIED = (False, "TIMEOUT", "FALLBACK")

MATRIX = {
    WhitelistType.ALWAYS: {
        "ALLOWED": LOCAL_ALLOWED,
        "BLOCKED": LOCAL_ALLOWED,
        "UNKNOWN": LOCAL_ALLOWED,
        "SLOW": LOCAL_ALLOWED,
        "REFUSED": LOCAL_ALLOWED,
    },
    WhitelistType.ALLOWED: {
        "ALLOWED": ALLOWED_REALTIME,
        "BLOCKED": BLOCKED_REALTIME,
        "UNKNOWN": UNKNOWN_REALTIME,
        "SLOW": FALLBACK_ALLOWED,
        "REFUSED": FALLBACK_ALLOWED,
    },
    WhitelistType.ALLOWED_OFFLINE: {
        "ALLOWED": ALLOWED_REALTIME,
        "BLOCKED": BLOCKED_REALTIME,
        "UNKNOWN": UNKNOWN_REALTIME,
        "SLOW": FALLBACK_ALLOWED,
        "REFUSED": FALLBACK_ALLOWED,
    },
    WhitelistType.NEVER: {
        "ALLOWED": ALLOWED_REALTIME,
        "BLOCKED": BLOCKED_REALTIME,
        "UNKNOWN": UNKNOWN_REALTIME,
        "SLOW": FALLBACK_DENIED,
        "REFUSED": FALLBACK_DENIED,
    },
    None: {
        "ALLOWED": ALLOWED_REALTIME,
        "BLOCKED": BLOCKED_REALTIME,
        "UNKNOWN": UNKNOWN_REALTIME,
        "SLOW": FALLBACK_DENIED,
        "REFUSED": FALLBACK_DENIED,
    },
}
CASES = [(whitelist, behaviour, expected) for whitelist, row in MATRIX.items() for behaviour, expected in row.items()]


@pytest.mark.parametrize(
    ("whitelist", "behaviour", "expected"), CASES, ids=[f"{w or 'UNCACHED'}-{b}" for w, b, _ in CASES]
)
def test_decision_matrix(
    db: Any, fake_emsp: FakeEmsp, refused_url: str, whitelist: str | None, behaviour: str, expected: tuple
) -> None:
    partner = _emsp(refused_url if behaviour == "REFUSED" else fake_emsp.tokens_url)
    fake_emsp.mode = behaviour
    token = ReceivedTokenFactory(ocpi_id=UID, whitelist=whitelist, received_from=partner) if whitelist else None

    started = time.monotonic()
    decision = authorize()
    elapsed = time.monotonic() - started

    assert (decision.allowed, decision.status, decision.source) == expected
    assert decision.token == token
    assert decision.owner == partner
    asked = whitelist != WhitelistType.ALWAYS and behaviour != "REFUSED"
    assert len(fake_emsp.seen) == (1 if asked else 0)
    if decision.source == "REALTIME" and decision.status in ("ALLOWED", "BLOCKED"):
        assert decision.authorization_reference == "EMP-REF-1"
    else:
        assert decision.authorization_reference is None
    assert elapsed < 0.5 + 1.0  # never longer than the timeout (+1 s of slack)


def test_request_shape_url_body_headers_and_log(emp: Any, fake_emsp: FakeEmsp) -> None:
    decision = authorize(uid="04 AB/CD", type=TokenType.APP_USER, evse_uid="BE*CPX*E1")

    assert decision.allowed is True
    (seen,) = fake_emsp.seen
    assert seen.path == "/ocpi/emsp/2.2.1/tokens/04%20AB%2FCD/authorize"  # one segment, quoted
    assert seen.query == {"type": ["APP_USER"]}
    assert seen.body == {"location_id": "LOC1", "evse_uids": ["BE*CPX*E1"]}
    assert seen.headers["Authorization"] == token_encode_header(OUTBOUND_TOKEN)
    assert (seen.headers["OCPI-from-country-code"], seen.headers["OCPI-from-party-id"]) == ("NL", "EXA")
    assert (seen.headers["OCPI-to-country-code"], seen.headers["OCPI-to-party-id"]) == ("DE", "EMP")
    assert MessageLog.objects.filter(direction="OUT", partner=emp, url__contains="/authorize").count() == 1


def test_request_without_evse_sends_location_only(emp: Any, fake_emsp: FakeEmsp) -> None:
    authorize(evse_uid=None)

    assert fake_emsp.seen[0].body == {"location_id": "LOC1"}


def test_cached_invalid_token_is_still_asked_and_the_emsp_decides(emp: Any, fake_emsp: FakeEmsp) -> None:
    """tokens.md 5: valid=false does not skip the real-time request the whitelist type calls for."""
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.NEVER, valid=False, received_from=emp)

    decision = authorize()

    assert (decision.allowed, decision.status, decision.source) == ALLOWED_REALTIME
    assert len(fake_emsp.seen) == 1


@pytest.mark.parametrize("whitelist", [WhitelistType.ALLOWED, WhitelistType.ALLOWED_OFFLINE])
def test_fallback_uses_the_cached_validity(emp: Any, fake_emsp: FakeEmsp, whitelist: str) -> None:
    ReceivedTokenFactory(ocpi_id=UID, whitelist=whitelist, valid=False, received_from=emp)
    fake_emsp.mode = "SLOW"

    decision = authorize()

    assert (decision.allowed, decision.status, decision.source) == (False, "BLOCKED", "FALLBACK")


def test_always_with_invalid_token_is_rejected_locally(emp: Any, fake_emsp: FakeEmsp) -> None:
    """spec-issues G2: our policy rejects an invalid token even when whitelisted ALWAYS."""
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.ALWAYS, valid=False, received_from=emp)

    decision = authorize()

    assert (decision.allowed, decision.status, decision.source) == (False, "BLOCKED", "LOCAL")
    assert fake_emsp.seen == []


def test_timeout_returns_within_timeout(emp: Any, fake_emsp: FakeEmsp) -> None:
    fake_emsp.mode, fake_emsp.delay = "SLOW", 5.0

    started = time.monotonic()
    decision = authorize(timeout=1.0)
    elapsed = time.monotonic() - started

    assert (decision.allowed, decision.status) == (False, "TIMEOUT")
    assert "Timeout" in decision.detail
    assert 1.0 <= elapsed < 2.0


def test_default_timeout_comes_from_settings(emp: Any, fake_emsp: FakeEmsp, settings: Any) -> None:
    settings.OCPI_REALTIME_AUTH_TIMEOUT_SECONDS = 0.3
    fake_emsp.mode, fake_emsp.delay = "SLOW", 5.0

    started = time.monotonic()
    decision = authorize(timeout=None)

    assert decision.status == "TIMEOUT"
    assert time.monotonic() - started < 1.3


def test_emsp_limits_the_allowed_evses(emp: Any, fake_emsp: FakeEmsp) -> None:
    """The echo lists only the EVSEs the driver may use (tokens.md 4.2): ours is not among them."""
    fake_emsp.mode = {
        "allowed": "ALLOWED",
        "token": fake_emsp.answer(UID, {}, None)[1]["data"]["token"] | {"valid": True},
        "location": {"location_id": "LOC1", "evse_uids": ["BE*CPX*E2"]},
        "authorization_reference": "EMP-REF-2",
    }

    decision = authorize(evse_uid="be*cpx*e1")

    assert (decision.allowed, decision.status, decision.source) == (False, "NOT_ALLOWED", "REALTIME")


def test_emsp_answer_no_credit_denies_and_carries_info(emp: Any, fake_emsp: FakeEmsp) -> None:
    token = fake_emsp.answer(UID, {}, None)[1]["data"]["token"]
    fake_emsp.mode = {"allowed": "NO_CREDIT", "token": token, "info": {"language": "en", "text": "Top up"}}

    decision = authorize()

    assert (decision.allowed, decision.status) == (False, "NO_CREDIT")
    assert decision.info == {"language": "en", "text": "Top up"}


@pytest.mark.parametrize(
    ("whitelist", "allowed"), [(WhitelistType.ALLOWED_OFFLINE, True), (WhitelistType.NEVER, False)]
)
def test_invalid_answer_counts_as_no_answer(emp: Any, fake_emsp: FakeEmsp, whitelist: str, allowed: bool) -> None:
    ReceivedTokenFactory(ocpi_id=UID, whitelist=whitelist, received_from=emp)
    fake_emsp.mode = "INVALID"

    decision = authorize()

    assert (decision.allowed, decision.source) == (allowed, "FALLBACK")
    assert "allowed" in decision.detail


def test_unknown_token_without_partner_is_denied_without_a_call(db: Any, fake_emsp: FakeEmsp) -> None:
    decision = authorize(country_code="FR", party_id="XYZ")

    assert (decision.allowed, decision.status, decision.source) == (False, "UNKNOWN", "LOCAL")
    assert decision.owner is None
    assert fake_emsp.seen == []


def test_partner_without_tokens_sender_endpoint(db: Any) -> None:
    partner = make_registered_partner("No tokens", [("EMSP", "DE", "EMP")]).partner
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.NEVER, received_from=partner)

    decision = authorize()

    assert (decision.allowed, decision.status, decision.owner) == (False, "TIMEOUT", partner)
    assert "no tokens SENDER endpoint" in decision.detail


def test_unregistered_owner_is_not_asked(emp: Any, fake_emsp: FakeEmsp) -> None:
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.ALLOWED_OFFLINE, received_from=emp)
    emp.state = PartnerState.UNREGISTERED
    emp.save()

    decision = authorize()

    assert (decision.allowed, decision.source) == (True, "FALLBACK")
    assert fake_emsp.seen == []


def test_token_relayed_by_a_hub_is_asked_through_the_hub(db: Any, fake_emsp: FakeEmsp) -> None:
    """No partner registered DE/EMP itself: the partner that pushed the token (a Hub) routes the request."""
    hub = make_registered_partner(
        "Hub", [("HUB", "NL", "HUB")], [("tokens", "SENDER", fake_emsp.tokens_url)], outbound_token=OUTBOUND_TOKEN
    ).partner
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.NEVER, received_from=hub)

    decision = authorize()

    assert (decision.allowed, decision.owner) == (True, hub)
    assert fake_emsp.seen[0].headers["OCPI-to-party-id"] == "EMP"


def test_explicit_partner_overrides_the_lookup(emp: Any, fake_emsp: FakeEmsp, refused_url: str) -> None:
    other = make_registered_partner(
        "Other route", [("HUB", "NL", "HUB")], [("tokens", "SENDER", refused_url)], outbound_token="x"
    ).partner

    decision = authorize(partner=other)

    assert (decision.status, decision.owner) == ("TIMEOUT", other)
    assert fake_emsp.seen == []


def test_our_own_emsp_token_is_decided_in_process(our_emsp: Any) -> None:
    """Our CPO and our eMSP share this platform: no partner hosts NL/EXA, so our eMSP answers without HTTP."""
    token = TokenFactory(ocpi_id=UID)

    decision = authorize(country_code="NL", party_id="EXA")

    assert (decision.allowed, decision.status, decision.source, decision.token) == (True, "ALLOWED", "REALTIME", token)
    stored = TokenAuthorization.objects.get(reference=decision.authorization_reference)
    assert (stored.partner, stored.location_id, stored.evse_uids) == (None, "LOC1", ["BE*CPX*E1"])
    assert authorize(country_code="NL", party_id="EXA", uid="04NOSUCH").status == "UNKNOWN"


# --- our CPO side against our own eMSP endpoint over real HTTP ----------------------------------------


def test_cpo_side_against_our_own_emsp_endpoint_over_http(live_server: Any, transactional_db: Any) -> None:
    from partners.models import Party, Role

    Party.objects.get_or_create(role=Role.EMSP, country_code="NL", party_id="EXA", defaults={"name": "eMSP"})
    Party.objects.get_or_create(role=Role.CPO, country_code="NL", party_id="EXA", defaults={"name": "CPO"})
    TokenFactory(ocpi_id="04LIVE0001", whitelist=WhitelistType.NEVER)
    TokenFactory(ocpi_id="04LIVE0002", valid=False)
    loopback = make_registered_partner(  # both roles: it asks as our CPO (the Tokens Sender serves CPOs only)
        "Ourselves",
        [("EMSP", "NL", "EXA"), ("CPO", "NL", "EXA")],
        [("tokens", "SENDER", live_server.url + "/ocpi/emsp/2.2.1/tokens")],
    )
    loopback.partner.outbound_token = loopback.token  # we call ourselves with the token we issued to "it"
    loopback.partner.save()

    allowed = authorize(country_code="NL", party_id="EXA", uid="04live0001", timeout=5.0)
    blocked = authorize(country_code="NL", party_id="EXA", uid="04LIVE0002", timeout=5.0)
    unknown = authorize(country_code="NL", party_id="EXA", uid="04NOSUCH", timeout=5.0)

    assert (allowed.allowed, allowed.status, allowed.source, allowed.owner) == (
        True,
        "ALLOWED",
        "REALTIME",
        loopback.partner,
    )
    stored = TokenAuthorization.objects.get(reference=allowed.authorization_reference)
    assert (stored.token.ocpi_id, stored.partner, stored.location_id) == ("04LIVE0001", loopback.partner, "LOC1")
    assert (blocked.allowed, blocked.status) == (False, "BLOCKED")
    assert blocked.info is not None
    assert (unknown.allowed, unknown.status, unknown.source) == (False, "UNKNOWN", "REALTIME")
    inbound = MessageLog.objects.filter(direction="IN", url__contains="/authorize")
    assert sorted(inbound.values_list("http_status", flat=True)) == [200, 200, 404]
