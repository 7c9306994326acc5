"""Two installations of this platform roam with each other over real HTTP (issue: eMSP).

A (ours, NL/EXA CPO + eMSP) runs in pytest-django's live server; B (DE/BBB CPO + DE/BBC eMSP) is a second
process with its own database. B registers with A; B's eMSP token is pushed to A's CPO; a session is
simulated on one of A's EVSEs with it, and B receives the session and the CDR and shows them in its admin;
B pulls A's locations; B starts and stops a session on A's EVSE with commands.
"""

from __future__ import annotations

import json
import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from partners.models import Partner
from partners.services import partner_invite
from sessions.demo import seed_demo
from tests.system.integration.remote import RemotePlatform
from tokens.models import Token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

UID = "BBCCARD0001"


@pytest.fixture
def remote() -> Any:
    platform = RemotePlatform().start()
    yield platform
    platform.stop()


def query(remote: RemotePlatform, code: str) -> Any:
    """Run `code` (which assigns `result`) in B and return `result` decoded from JSON."""
    out = remote.shell(
        "import json\nfrom django.core.serializers.json import DjangoJSONEncoder\n"
        + code
        + "\nprint('RESULT=' + json.dumps(result, cls=DjangoJSONEncoder))"
    )
    line = next(line for line in reversed(out.splitlines()) if line.startswith("RESULT="))
    return json.loads(line[len("RESULT=") :])


@pytest.mark.parametrize("version", ["2.1.1", "2.2.1", "2.3.0"])
def test_two_installations_roam(live_server: Any, settings: Any, remote: RemotePlatform, version: str) -> None:
    """The whole flow once with each version pinned on both sides (in 2.1.1, A is B's CPO and B A's eMSP)."""
    settings.OCPI_BASE_URL = live_server.url
    settings.OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS = 0
    seed_demo(locations=3)

    # B registers with A through the credentials handshake, in `version`.
    _, token_a = partner_invite(name="B", version_pin=version, ocpi211_role="EMSP")
    registered = remote.manage(
        "ocpi_register", "--name", "A", "--ocpi-version", version, "--ocpi211-role", "CPO",
        f"{live_server.url}/ocpi/versions", "--", token_a,
    )  # fmt: skip
    assert f"Registered with A: OCPI {version}" in registered
    assert Partner.objects.get(name="B").version == version

    # B's eMSP issues a token: the outbox pushes it to A's Tokens Receiver.
    query(
        remote,
        "from tokens.services import token_issue\n"
        f"t = token_issue(country_code='DE', party_id='BBC', uid='{UID}', type='RFID',"
        " contract_id='DE-BBC-C00000001-X', issuer='B eMSP')\nresult = t.pk",
    )
    received = Token.objects.get(country_code="DE", party_id="BBC", ocpi_id=UID)
    assert received.valid is True

    # A session on one of A's EVSEs with B's token: B gets the session and the CDR.
    out = StringIO()
    call_command(
        "simulate_charging", "--evse", "LOC000002-E1", "--token", UID, "--country", "DE", "--party", "BBC",
        "--kwh", "10", "--minutes", "30", stdout=out,
    )  # fmt: skip
    state = query(
        remote,
        "from sessions.models import ChargingSession\nfrom cdrs.models import Cdr\n"
        "from django.test import Client\nfrom django.contrib.auth import get_user_model\n"
        "s = ChargingSession.objects.get(cdr_token__uid='" + UID + "')\n"
        "c = Cdr.objects.get(cdr_token__uid='" + UID + "')\n"
        "u = get_user_model().objects.create_superuser('auditor', '', 'pw')\n"
        "client = Client(); client.force_login(u)\n"
        "page = client.get('/admin/cdrs/cdr/', HTTP_HOST='127.0.0.1').content.decode()\n"
        "spage = client.get('/admin/charging_sessions/chargingsession/', HTTP_HOST='127.0.0.1').content.decode()\n"
        "result = {'status': s.status, 'kwh': str(s.kwh), 'cdr': c.ocpi_id, 'total': str(c.total_cost_excl_vat),"
        " 'cdr_in_admin': c.ocpi_id in page, 'session_in_admin': s.ocpi_id in spage}",
    )
    assert state["status"] == "COMPLETED"
    assert float(state["kwh"]) == 10
    assert float(state["total"]) == 3.5  # AC-STD: 10 kWh x 0.35
    assert state["cdr_in_admin"]
    assert state["session_in_admin"]

    # B pulls A's locations.
    remote.manage("ocpi_pull", "A", "locations", "--full")
    pulled = query(
        remote,
        "from locations.models import Location\n"
        "result = sorted(Location.objects.filter(country_code='NL', party_id='EXA').values_list('ocpi_id', flat=True))",
    )
    assert pulled == ["LOC000001", "LOC000002", "LOC000003"]

    # B starts and stops a session on an AVAILABLE EVSE of A with commands (E1-E3 of LOC000003 are
    # out of order, blocked or inoperative in the demo network).
    started = remote.manage(
        "ocpi_command", "A", "START_SESSION", "--location", "LOC000003", "--evse", "LOC000003-E4",
        "--token", UID, "--wait", "30",
    )  # fmt: skip
    assert "ACCEPTED" in started
    session_id = None
    for _ in range(50):
        session_id = query(
            remote,
            "from sessions.models import ChargingSession\n"
            "s = ChargingSession.objects.filter(cdr_token__uid='" + UID + "', evse_uid='LOC000003-E4')"
            ".order_by('-pk').first()\nresult = s.ocpi_id if s else None",
        )
        if session_id:
            break
        time.sleep(0.2)
    assert session_id
    stopped = remote.manage("ocpi_command", "A", "STOP_SESSION", "--session", session_id, "--wait", "30")
    assert "ACCEPTED" in stopped
    final = query(
        remote,
        "from sessions.models import ChargingSession\n"
        f"result = ChargingSession.objects.get(ocpi_id='{session_id}').status",
    )
    assert final == "COMPLETED"
