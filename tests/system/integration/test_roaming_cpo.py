"""The CPO roaming flow over real HTTP with a fake partner eMSP.

The partner PUTs its driver's token into our Tokens Receiver (through our live server), a session is
simulated on one of our EVSEs with that token, and the partner receives the session (PUT, then PATCHes
ending COMPLETED) and exactly one CDR whose totals match the tariff, also when it fails for a while.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from ocpi_platform.ocpi.tokens import token_encode_header
from partners.models import OutboxDelivery, OutboxPartnerState, OutboxState
from partners.outbox import outbox_requeue_due
from sessions.demo import seed_demo
from tests.conftest import make_registered_partner

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]

TOKEN = {
    "country_code": "DE",
    "party_id": "EMP",
    "uid": "DRIVER0001",
    "type": "RFID",
    "contract_id": "DE-EMP-C00000001-X",
    "issuer": "Fake eMSP",
    "valid": True,
    "whitelist": "ALWAYS",
    "last_updated": "2026-01-01T00:00:00Z",
}


@pytest.fixture
def roaming(live_server: Any, settings: Any, fake_partner: Any) -> Any:
    settings.OCPI_BASE_URL = live_server.url
    settings.OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS = 0
    seed_demo(locations=3)
    registered = make_registered_partner(
        "Fake eMSP",
        [("EMSP", "DE", "EMP")],
        [
            ("sessions", "RECEIVER", fake_partner.url("sessions", "RECEIVER")),
            ("cdrs", "RECEIVER", fake_partner.url("cdrs", "RECEIVER")),
        ],
    )
    fake_partner.valid_tokens.add(registered.partner.outbound_token)
    response = requests.put(
        f"{live_server.url}/ocpi/cpo/2.2.1/tokens/DE/EMP/DRIVER0001?type=RFID",
        json=TOKEN,
        headers={"Authorization": token_encode_header(registered.token)},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return fake_partner


def simulate() -> str:
    out = StringIO()
    call_command(
        "simulate_charging",
        "--evse",
        "LOC000002-E1",
        "--token",
        "DRIVER0001",
        "--country",
        "DE",
        "--party",
        "EMP",
        "--kwh",
        "12.5",
        "--minutes",
        "45",
        stdout=out,
    )
    return out.getvalue()


def test_session_and_one_cdr_reach_the_token_owner(roaming: Any) -> None:
    printed = simulate()
    assert "CDR" in printed

    sessions = [r for r in roaming.requests if "/sessions/" in r.path]
    assert sessions[0].method == "PUT"
    assert sessions[0].path.startswith("/ocpi/2.2.1/receiver/sessions/NL/EXA/")
    assert sessions[0].body["cdr_token"]["uid"] == "DRIVER0001"
    assert {r.method for r in sessions[1:]} <= {"PATCH", "PUT"}
    assert sessions[-1].body["status"] == "COMPLETED"
    assert all(r.headers["OCPI-to-party-id"] == "EMP" for r in sessions)

    cdrs = [r for r in roaming.requests if "/cdrs" in r.path]
    assert len(cdrs) == 1
    cdr = cdrs[0].body
    assert cdr["cdr_token"]["uid"] == "DRIVER0001"
    assert Decimal(str(cdr["total_energy"])) == Decimal("12.5")
    # AC-STD: 0.35 EUR/kWh excl. VAT, 21 % VAT
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == Decimal("4.375")
    assert Decimal(str(cdr["total_cost"]["incl_vat"])) == Decimal("5.2938")
    assert cdr["tariffs"][0]["id"] == "AC-STD"


def test_exactly_one_cdr_when_the_partner_fails_for_a_while(roaming: Any) -> None:
    failing = {"status_code": 3000, "timestamp": "2026-01-01T00:00:00Z"}
    roaming.responses["/ocpi/2.2.1/receiver/cdrs"] = (503, failing)
    simulate()
    assert [r.method for r in roaming.requests if "/cdrs" in r.path] == ["POST"]  # refused once, waits for backoff
    pending = OutboxDelivery.objects.filter(module="cdrs").exclude(state=OutboxState.DELIVERED)
    assert pending.count() == 1

    del roaming.responses["/ocpi/2.2.1/receiver/cdrs"]
    for _ in range(3):  # the backoff elapses and the beat runs, more than once: still one CDR at the partner
        OutboxDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(seconds=1), queued_at=None)
        OutboxPartnerState.objects.update(blocked_until=None, next_slot_at=None)
        outbox_requeue_due()
    posts = [r for r in roaming.requests if "/cdrs" in r.path]
    assert len(posts) == 2  # the refused attempt and the one that landed
    assert posts[0].body["id"] == posts[1].body["id"]
    assert not OutboxDelivery.objects.filter(module="cdrs").exclude(state=OutboxState.DELIVERED).exists()
