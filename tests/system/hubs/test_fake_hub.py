"""Our pushes through a fake Hub (loopback) to two eMSPs behind it: each addressed with OCPI-to-* = the token's
eMSP and OCPI-from-* = our CPO; a party the Hub reports OFFLINE gets nothing (its deliveries wait, the other
eMSP's go on) until a ClientInfo PUT says CONNECTED again."""

from __future__ import annotations

from typing import Any

import pytest

from cdrs.models import Cdr
from cdrs.services import cdr_create_from_session
from partners.models import OutboxDelivery, OutboxPartnerState, OutboxState
from sessions.models import ChargingSession
from sessions.services import session_start
from tests.cdrs.factories import cdr_token, make_session, our_connector, our_tariff
from tests.fake_hub import EMSP_A, EMSP_B

pytestmark = pytest.mark.django_db

CLIENTINFO = "/ocpi/2.2.1/hubclientinfo/{}/{}"


def start(capture: Any, clock: Any, session_id: str, party: tuple[str, str]) -> ChargingSession:
    with capture(execute=True):
        return session_start(
            country_code="NL",
            party_id="EXA",
            ocpi_id=session_id,
            location_id="LOC1",
            evse_uid="EVSE1",
            connector_id="1",
            cdr_token=cdr_token(*party, uid=f"RFID-{party[1]}"),
            auth_method="WHITELIST",
            start_date_time=clock.now,
            currency="EUR",
        )


def issue_cdr(capture: Any, party: tuple[str, str], connector: Any) -> Cdr:
    with capture(execute=True):
        return cdr_create_from_session(session=make_session(connector, token=cdr_token(*party, uid=f"C-{party[1]}")))


def report(hub: Any, capture: Any, party: tuple[str, str], status: str, when: str) -> None:
    body = {"country_code": party[0], "party_id": party[1], "role": "EMSP", "status": status, "last_updated": when}
    with capture(execute=True):
        response = hub.client().put(CLIENTINFO.format(*party), body, format="json")
    assert response.json()["status_code"] == 1000


def pushes(fake: Any) -> list[Any]:
    """Requests for sessions and CDRs (the tariff of our CDRs is broadcast to everybody through the hub)."""
    return [r for r in fake.requests if "/tariffs/" not in r.path]


def routing(received: Any) -> tuple[tuple[str, str], tuple[str, str]]:
    h = received.headers
    return (h["ocpi-from-country-code"], h["ocpi-from-party-id"]), (h["ocpi-to-country-code"], h["ocpi-to-party-id"])


def test_sessions_and_cdrs_go_through_the_hub_to_the_token_owner_behind_it(
    hub: Any, fake_hub: Any, emsp_a: Any, emsp_b: Any, clock: Any, moving: Any, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    our_tariff("T1")
    connector = our_connector(("T1",))
    sa, sb = start(capture, clock, "SA", EMSP_A), start(capture, clock, "SB", EMSP_B)
    cdr_a, cdr_b = issue_cdr(capture, EMSP_A, connector), issue_cdr(capture, EMSP_B, connector)

    assert sa.token_owner_partner_id == sb.token_owner_partner_id == hub.partner.pk
    assert cdr_a.token_owner_partner_id == hub.partner.pk
    assert sorted(moving.run_due()) == ["delivered"] * 5

    hub_calls = sorted((r.method, r.path, routing(r)) for r in fake_hub.requests)
    assert hub_calls == [
        ("POST", "/ocpi/hub/2.2.1/cdrs", (("NL", "EXA"), EMSP_A)),
        ("POST", "/ocpi/hub/2.2.1/cdrs", (("NL", "EXA"), EMSP_B)),
        ("PUT", "/ocpi/hub/2.2.1/sessions/NL/EXA/SA", (("NL", "EXA"), EMSP_A)),
        ("PUT", "/ocpi/hub/2.2.1/sessions/NL/EXA/SB", (("NL", "EXA"), EMSP_B)),
        # Tariffs are for everybody: a Broadcast Push addressed to the hub itself (transport.md 8.3).
        ("PUT", "/ocpi/hub/2.2.1/tariffs/NL/EXA/T1", (("NL", "EXA"), ("DE", "HUB"))),
    ]
    assert [(r.method, r.path) for r in pushes(emsp_a)] == [
        ("PUT", "/ocpi/emsp/2.2.1/sessions/NL/EXA/SA"),
        ("POST", "/ocpi/emsp/2.2.1/cdrs"),
    ]
    assert [r.body.get("id") for r in pushes(emsp_b)] == ["SB", cdr_b.ocpi_id]
    assert [r.path for r in emsp_b.requests if r not in pushes(emsp_b)] == ["/ocpi/emsp/2.2.1/tariffs/NL/EXA/T1"]


def test_offline_party_gets_nothing_while_the_other_does_and_connected_releases_its_pushes(
    hub: Any, fake_hub: Any, emsp_a: Any, emsp_b: Any, clock: Any, moving: Any, django_capture_on_commit_callbacks: Any
) -> None:
    capture = django_capture_on_commit_callbacks
    our_tariff("T1")
    connector = our_connector(("T1",))
    report(hub, capture, EMSP_B, "OFFLINE", "2026-02-01T10:00:00Z")

    sa, sb = start(capture, clock, "SA", EMSP_A), start(capture, clock, "SB", EMSP_B)
    cdr_b = issue_cdr(capture, EMSP_B, connector)
    results = moving.run_due()

    assert sorted(results) == ["delivered", "delivered", "waiting", "waiting"]  # the tariff, SA; SB and B's CDR
    assert [r.body["id"] for r in pushes(emsp_a)] == ["SA"]
    assert pushes(emsp_b) == []
    assert EMSP_B not in [to for _, to in map(routing, fake_hub.requests)]
    waiting = OutboxDelivery.objects.filter(partner=hub.partner, state=OutboxState.PENDING).order_by("module")
    assert [(d.module, d.object_id, d.action, d.attempts) for d in waiting] == [
        ("cdrs", cdr_b.pk, "WAIT", 0),
        ("sessions", sb.pk, "WAIT", 0),
    ]
    assert all(d.note.startswith("waiting for party FR/BBB:") for d in waiting)
    state = OutboxPartnerState.objects.get(partner=hub.partner)
    assert state.consecutive_failures == 0 and state.blocked_until is None  # the hub itself is fine

    # The periodic re-check finds the party still OFFLINE: nothing is sent, nothing is counted as a failure.
    clock.advance(3601)
    assert sorted(moving.run_due()) == ["waiting", "waiting"]
    assert pushes(emsp_b) == []

    # Another party coming back does not release FR/BBB's deliveries.
    report(hub, capture, EMSP_A, "CONNECTED", "2026-02-01T10:30:00Z")
    assert moving.run_due() == []

    report(hub, capture, EMSP_B, "CONNECTED", "2026-02-01T11:00:00Z")
    assert sorted(moving.run_due()) == ["delivered", "delivered"]
    assert sorted((r.method, r.body.get("id")) for r in pushes(emsp_b)) == [("POST", cdr_b.ocpi_id), ("PUT", "SB")]
    assert all(routing(r) == (("NL", "EXA"), EMSP_B) for r in pushes(emsp_b))
    assert not OutboxDelivery.objects.filter(state=OutboxState.PENDING).exists()
    assert sa.pk != sb.pk


@pytest.mark.parametrize("status", ["PLANNED", "SUSPENDED"])
def test_planned_and_suspended_parties_get_nothing_either(
    hub: Any, emsp_b: Any, clock: Any, moving: Any, django_capture_on_commit_callbacks: Any, status: str
) -> None:
    report(hub, django_capture_on_commit_callbacks, EMSP_B, status, "2026-02-01T10:00:00Z")

    start(django_capture_on_commit_callbacks, clock, "SB", EMSP_B)

    assert moving.run_due() == ["waiting"]
    assert emsp_b.requests == []


def test_party_back_while_the_push_decides_is_sent_at_once(
    hub: Any, emsp_b: Any, clock: Any, moving: Any, django_capture_on_commit_callbacks: Any, mocker: Any
) -> None:
    """The wake-up may run between our status check and our marking the row as waiting: we look again."""
    start(django_capture_on_commit_callbacks, clock, "SB", EMSP_B)
    answers = iter(["OFFLINE"])  # the push sees OFFLINE once; by the time it has parked the row, CONNECTED
    status = mocker.Mock(side_effect=lambda **kw: next(answers, "CONNECTED"))
    mocker.patch("partners.hubclientinfo.hub_party_status", status)  # the client's party check
    mocker.patch("partners.outbox.services.hub_party_status", status)  # the outbox's second look

    assert moving.run_due() == ["resend", "delivered"]
    assert [r.body["id"] for r in pushes(emsp_b)] == ["SB"]
