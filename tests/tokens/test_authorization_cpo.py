"""CPO side of real-time authorization (tokens.md 5 WhitelistType, 6): token_authorize_at_charge_point.

The owning eMSP is the fake partner (tests/fake_partner.py) on a real loopback HTTP server that answers ALLOWED /
BLOCKED / 404+2004, holds the request past our timeout, or is not listening at all (connection refused). One test
talks to our own eMSP endpoint through pytest-django's live_server.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ocpi_platform.ocpi.tokens import token_encode_header
from partners.models import MessageLog, PartnerState
from tests.conftest import make_registered_partner
from tests.fake_partner import FakePartner
from tests.tokens.factories import ReceivedTokenFactory, TokenFactory
from tokens.models import TokenAuthorization, TokenType, WhitelistType
from tokens.services import token_authorize_at_charge_point

UID = "04CAFE0001"
OUTBOUND_TOKEN = "token-we-present-to-emp"


def behave(fake: FakePartner, behaviour: str) -> None:
    """The eMSP answers ALLOWED / BLOCKED / UNKNOWN (404/2004) / INVALID, or holds the request (SLOW) until the
    test ends (stop() releases it)."""
    if behaviour == "SLOW":
        fake.hang()
    else:
        fake.authorize = behaviour


@pytest.fixture
def fake_emsp() -> Iterator[FakePartner]:
    """A partner eMSP's Tokens Sender (tests/fake_partner.py) that answers real-time authorization."""
    fake = FakePartner(token_a=OUTBOUND_TOKEN, authorize="ALLOWED")
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
def emp(fake_emsp: FakePartner, db: Any) -> Any:
    return _emsp(fake_emsp.url("tokens"))


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
    db: Any, fake_emsp: FakePartner, refused_url: str, whitelist: str | None, behaviour: str, expected: tuple
) -> None:
    partner = _emsp(refused_url if behaviour == "REFUSED" else fake_emsp.url("tokens"))
    behave(fake_emsp, behaviour)
    token = ReceivedTokenFactory(ocpi_id=UID, whitelist=whitelist, received_from=partner) if whitelist else None

    started = time.monotonic()
    decision = authorize()
    elapsed = time.monotonic() - started

    assert (decision.allowed, decision.status, decision.source) == expected
    assert decision.token == token
    assert decision.owner == partner
    asked = whitelist != WhitelistType.ALWAYS and behaviour != "REFUSED"
    assert len(fake_emsp.requests) == (1 if asked else 0)
    if decision.source == "REALTIME" and decision.status in ("ALLOWED", "BLOCKED"):
        assert decision.authorization_reference == "EMP-REF-1"
    else:
        assert decision.authorization_reference is None
    assert elapsed < 0.5 + 1.0  # never longer than the timeout (+1 s of slack)


def test_request_shape_url_body_headers_and_log(emp: Any, fake_emsp: FakePartner) -> None:
    decision = authorize(uid="04 AB/CD", type=TokenType.APP_USER, evse_uid="BE*CPX*E1")

    assert decision.allowed is True
    (seen,) = fake_emsp.requests
    assert seen.path.split("?")[0] == "/ocpi/emsp/2.2.1/tokens/04%20AB%2FCD/authorize"  # one segment, quoted
    assert seen.query == {"type": "APP_USER"}
    assert seen.body == {"location_id": "LOC1", "evse_uids": ["BE*CPX*E1"]}
    assert seen.headers["Authorization"] == token_encode_header(OUTBOUND_TOKEN)
    assert (seen.headers["OCPI-from-country-code"], seen.headers["OCPI-from-party-id"]) == ("NL", "EXA")
    assert (seen.headers["OCPI-to-country-code"], seen.headers["OCPI-to-party-id"]) == ("DE", "EMP")
    assert MessageLog.objects.filter(direction="OUT", partner=emp, url__contains="/authorize").count() == 1


def test_request_without_evse_sends_location_only(emp: Any, fake_emsp: FakePartner) -> None:
    authorize(evse_uid=None)

    assert fake_emsp.requests[0].body == {"location_id": "LOC1"}


def test_cached_invalid_token_is_still_asked_and_the_emsp_decides(emp: Any, fake_emsp: FakePartner) -> None:
    """tokens.md 5: valid=false does not skip the real-time request the whitelist type calls for."""
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.NEVER, valid=False, received_from=emp)

    decision = authorize()

    assert (decision.allowed, decision.status, decision.source) == ALLOWED_REALTIME
    assert len(fake_emsp.requests) == 1


@pytest.mark.parametrize("whitelist", [WhitelistType.ALLOWED, WhitelistType.ALLOWED_OFFLINE])
def test_fallback_uses_the_cached_validity(emp: Any, fake_emsp: FakePartner, whitelist: str) -> None:
    ReceivedTokenFactory(ocpi_id=UID, whitelist=whitelist, valid=False, received_from=emp)
    behave(fake_emsp, "SLOW")

    decision = authorize()

    assert (decision.allowed, decision.status, decision.source) == (False, "BLOCKED", "FALLBACK")


def test_always_with_invalid_token_is_rejected_locally(emp: Any, fake_emsp: FakePartner) -> None:
    """spec-issues G2: our policy rejects an invalid token even when whitelisted ALWAYS."""
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.ALWAYS, valid=False, received_from=emp)

    decision = authorize()

    assert (decision.allowed, decision.status, decision.source) == (False, "BLOCKED", "LOCAL")
    assert fake_emsp.requests == []


def test_timeout_returns_within_timeout(emp: Any, fake_emsp: FakePartner) -> None:
    behave(fake_emsp, "SLOW")

    started = time.monotonic()
    decision = authorize(timeout=1.0)
    elapsed = time.monotonic() - started

    assert (decision.allowed, decision.status) == (False, "TIMEOUT")
    assert "Timeout" in decision.detail
    assert 1.0 <= elapsed < 2.0


def test_default_timeout_comes_from_settings(emp: Any, fake_emsp: FakePartner, settings: Any) -> None:
    settings.OCPI_REALTIME_AUTH_TIMEOUT_SECONDS = 0.3
    behave(fake_emsp, "SLOW")

    started = time.monotonic()
    decision = authorize(timeout=None)

    assert decision.status == "TIMEOUT"
    assert time.monotonic() - started < 1.3


def test_emsp_limits_the_allowed_evses(emp: Any, fake_emsp: FakePartner) -> None:
    """The echo lists only the EVSEs the driver may use (tokens.md 4.2): ours is not among them."""
    fake_emsp.authorize = {
        "allowed": "ALLOWED",
        "token": fake_emsp.authorization_info(UID)["token"] | {"valid": True},
        "location": {"location_id": "LOC1", "evse_uids": ["BE*CPX*E2"]},
        "authorization_reference": "EMP-REF-2",
    }

    decision = authorize(evse_uid="be*cpx*e1")

    assert (decision.allowed, decision.status, decision.source) == (False, "NOT_ALLOWED", "REALTIME")


def test_emsp_answer_no_credit_denies_and_carries_info(emp: Any, fake_emsp: FakePartner) -> None:
    token = fake_emsp.authorization_info(UID)["token"]
    fake_emsp.authorize = {"allowed": "NO_CREDIT", "token": token, "info": {"language": "en", "text": "Top up"}}

    decision = authorize()

    assert (decision.allowed, decision.status) == (False, "NO_CREDIT")
    assert decision.info == {"language": "en", "text": "Top up"}


@pytest.mark.parametrize(
    ("whitelist", "allowed"), [(WhitelistType.ALLOWED_OFFLINE, True), (WhitelistType.NEVER, False)]
)
def test_invalid_answer_counts_as_no_answer(emp: Any, fake_emsp: FakePartner, whitelist: str, allowed: bool) -> None:
    ReceivedTokenFactory(ocpi_id=UID, whitelist=whitelist, received_from=emp)
    behave(fake_emsp, "INVALID")

    decision = authorize()

    assert (decision.allowed, decision.source) == (allowed, "FALLBACK")
    assert "allowed" in decision.detail


def test_unknown_token_without_partner_is_denied_without_a_call(db: Any, fake_emsp: FakePartner) -> None:
    decision = authorize(country_code="FR", party_id="XYZ")

    assert (decision.allowed, decision.status, decision.source) == (False, "UNKNOWN", "LOCAL")
    assert decision.owner is None
    assert fake_emsp.requests == []


def test_partner_without_tokens_sender_endpoint(db: Any) -> None:
    partner = make_registered_partner("No tokens", [("EMSP", "DE", "EMP")]).partner
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.NEVER, received_from=partner)

    decision = authorize()

    assert (decision.allowed, decision.status, decision.owner) == (False, "TIMEOUT", partner)
    assert "no tokens SENDER endpoint" in decision.detail


def test_unregistered_owner_is_not_asked(emp: Any, fake_emsp: FakePartner) -> None:
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.ALLOWED_OFFLINE, received_from=emp)
    emp.state = PartnerState.UNREGISTERED
    emp.save()

    decision = authorize()

    assert (decision.allowed, decision.source) == (True, "FALLBACK")
    assert fake_emsp.requests == []


def test_token_relayed_by_a_hub_is_asked_through_the_hub(db: Any, fake_emsp: FakePartner) -> None:
    """No partner registered DE/EMP itself: the partner that pushed the token (a Hub) routes the request."""
    hub = make_registered_partner(
        "Hub", [("HUB", "NL", "HUB")], [("tokens", "SENDER", fake_emsp.url("tokens"))], outbound_token=OUTBOUND_TOKEN
    ).partner
    ReceivedTokenFactory(ocpi_id=UID, whitelist=WhitelistType.NEVER, received_from=hub)

    decision = authorize()

    assert (decision.allowed, decision.owner) == (True, hub)
    assert fake_emsp.requests[0].headers["OCPI-to-party-id"] == "EMP"


def test_explicit_partner_overrides_the_lookup(emp: Any, fake_emsp: FakePartner, refused_url: str) -> None:
    other = make_registered_partner(
        "Other route", [("HUB", "NL", "HUB")], [("tokens", "SENDER", refused_url)], outbound_token="x"
    ).partner

    decision = authorize(partner=other)

    assert (decision.status, decision.owner) == ("TIMEOUT", other)
    assert fake_emsp.requests == []


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
