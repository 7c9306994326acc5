"""Secrets: after full handshakes (both directions, with rotation) and traffic, neither a database dump nor any
log line of the run holds a credentials token we issued, in clear or Base64, nor an `Authorization` value."""

from __future__ import annotations

import base64
import logging
import os
import re
import shutil
import subprocess
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from ocpi_platform.ocpi.tokens import token_encode_header
from partners.models import Partner
from partners.services import partner_invite, partner_register, partner_update_credentials
from tests.conftest import make_registered_partner
from tests.system.security.conftest import raw_client

pytestmark = pytest.mark.django_db(transaction=True)

CREDENTIALS = "/ocpi/2.2.1/credentials"
AUTHORIZATION_VALUE = re.compile(r"authorization['\"]?\s*[:=]\s*['\"]?\s*(token|bearer|basic)\s+\S", re.IGNORECASE)


def _forms(token: str) -> list[str]:
    """Every way a token could leak: as is, Base64 (the header form) and the whole header values."""
    encoded = base64.b64encode(token.encode()).decode()
    return [token, encoded, encoded.rstrip("="), token_encode_header(token), f"Token {token}"]


def _pg_dump() -> str:
    settings = connection.settings_dict
    env = dict(os.environ)
    if settings.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings["PASSWORD"])
    command = ["pg_dump", "--no-owner", "--data-only", "-d", settings["NAME"]]
    if settings.get("HOST"):
        command += ["-h", settings["HOST"]]
    if settings.get("PORT"):
        command += ["-p", str(settings["PORT"])]
    if settings.get("USER"):
        command += ["-U", settings["USER"]]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "COPY public.partners_partnertoken" in result.stdout  # really the test database
    return result.stdout


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG, SQL included (the SQL log only runs with a debug cursor)."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = False


def test_no_issued_token_or_authorization_value_in_database_dump_or_logs(
    all_logs: pytest.LogCaptureFixture, fake_partner: Any, live_server: Any, settings: Any
) -> None:
    settings.OCPI_BASE_URL = live_server.url  # a partner we register with calls our versions back
    issued: list[str] = []  # tokens we handed out
    theirs: list[str] = []  # tokens partners gave us: stored (we must send them) but never as a header value

    # 1. A partner registers with us (token A -> C), then rotates (PUT), then talks to us.
    _partner, token_a = partner_invite(name="Inbound eMSP")
    issued.append(token_a)
    fake_partner.valid_tokens.add("their-token-b-0123456789")
    theirs.append("their-token-b-0123456789")
    body = {"token": "their-token-b-0123456789", "url": fake_partner.versions_url, "roles": fake_partner.roles}
    response = raw_client(token_encode_header(token_a)).post(CREDENTIALS, body, format="json")
    assert response.json()["status_code"] == 1000, response.json()
    token_c = response.json()["data"]["token"]
    issued.append(token_c)
    fake_partner.valid_tokens.add("their-token-rotated-98765")
    theirs.append("their-token-rotated-98765")
    body = dict(body, token="their-token-rotated-98765")
    response = raw_client(token_encode_header(token_c)).put(CREDENTIALS, body, format="json")
    assert response.json()["status_code"] == 1000, response.json()
    token_c2 = response.json()["data"]["token"]
    issued.append(token_c2)
    client = raw_client(token_encode_header(token_c2))
    assert client.get(CREDENTIALS).json()["data"]["token"] == token_c2  # echoed to its owner only
    assert client.get("/ocpi/cpo/2.2.1/locations").status_code == 200  # an eMSP pulls our locations
    client.put("/ocpi/cpo/2.2.1/tokens/DE/EMP/SECRET-T1", {"uid": "SECRET-T1"}, format="json")
    # the old tokens and other schemes are refused (and must not be logged either)
    for header in (token_encode_header(token_a), token_encode_header(token_c), f"Bearer {token_c2}"):
        assert raw_client(header).get("/ocpi/versions").status_code == 401
    raw_client(token_encode_header(token_c2, base64_encode=False)).get("/ocpi/versions")  # legacy raw form

    # 2. We register with another partner (token B goes out), then rotate with it.
    other = type(fake_partner)(
        roles=[{"role": "CPO", "country_code": "FR", "party_id": "OUT", "business_details": {"name": "Out"}}]
    )
    try:
        theirs.append(other.token_a)
        registered = partner_register(versions_url_=other.versions_url, token_a=other.token_a, name="Outbound CPO")
        issued.append(other.token_for_us)
        theirs.append(registered.outbound_token)
        partner_update_credentials(partner=registered)
        issued.append(other.token_for_us)
        theirs.append(Partner.objects.get(pk=registered.pk).outbound_token)
    finally:
        other.stop()

    # 3. A partner made by the test fixtures, and a little traffic of it.
    fixture_partner = make_registered_partner("Fixture CPO", [("CPO", "BE", "CPX")])
    issued.append(fixture_partner.token)
    fixture_partner.client().get("/ocpi/cpo/2.2.1/locations")

    assert len(set(issued)) == len(issued) == 6 and all(issued)
    dumps = {"dumpdata": StringIO()}
    call_command("dumpdata", stdout=dumps["dumpdata"])
    texts = {"dumpdata": dumps["dumpdata"].getvalue(), "logs": all_logs.text}
    texts["logs"] += "\n".join(str(record.args) for record in all_logs.records)
    if connection.vendor == "postgresql" and shutil.which("pg_dump"):
        texts["pg_dump"] = _pg_dump()
    assert "partners.partnertoken" in texts["dumpdata"] and "SELECT" in texts["logs"]  # the dumps are real

    leaks = []
    for where, text in texts.items():
        for token in issued:
            leaks += [f"issued token ({form[:12]}...) in {where}" for form in _forms(token) if form in text]
        for token in theirs:
            leaks += [f"partner token header ({form[:12]}...) in {where}" for form in _forms(token)[1:] if form in text]
        leaks += [f"Authorization value in {where}: {m.group(0)}" for m in AUTHORIZATION_VALUE.finditer(text)]
    assert leaks == []
