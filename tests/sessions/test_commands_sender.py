"""Commands Sender (our eMSP) against our OWN Commands Receiver (our CPO) through pytest-django's live server:
the command goes out over HTTP, the CommandResult comes back to our eMSP callback on the same server."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from sessions.commands.sender import command_expire_overdue, command_refresh, command_send
from sessions.models import ChargingSession, CommandRequest
from tests.conftest import make_registered_partner
from tests.sessions import test_gateway_fixtures as fixtures
from tests.sessions.test_gateway_fixtures import OUR_TOKEN, evse

# Shared fixtures (tests/sessions/conftest.py belongs to the sessions module's own tests).
fast_gateway = fixtures.fast_gateway
loopback = fixtures.loopback
site = fixtures.site


def test_start_and_stop_session_at_our_own_cpo(loopback: Any) -> None:
    started = command_send(
        partner=loopback.partner,
        command="START_SESSION",
        location_id="LOCG",
        evse_uid="EVSE-A",
        token=OUR_TOKEN,
        authorization_reference="EMSP-REF-7",
    )

    assert (started.response_status_code, started.response_result, started.response_timeout) == (1000, "ACCEPTED", 10)
    assert started.result == "ACCEPTED"  # arrived on our callback
    assert started.deadline is not None
    assert started.response_url.endswith(f"/ocpi/emsp/2.2.1/commands/START_SESSION/{started.uid}")
    received = CommandRequest.objects.get(direction="RECEIVED")
    assert (received.partner, received.result, received.posted_at is not None) == (loopback.partner, "ACCEPTED", True)
    assert received.body["token"]["uid"] == OUR_TOKEN
    session = ChargingSession.objects.get()
    assert (session.status, session.authorization_reference, session.token_uid) == (
        "ACTIVE", "EMSP-REF-7", OUR_TOKEN,
    )  # fmt: skip
    assert evse("EVSE-A").status == "CHARGING"

    stopped = command_send(partner=loopback.partner, command="STOP_SESSION", session_id=session.ocpi_id)
    unknown = command_send(partner=loopback.partner, command="STOP_SESSION", session_id="NO-SUCH-SESSION")

    assert (stopped.response_result, stopped.result) == ("ACCEPTED", "ACCEPTED")
    assert (unknown.response_result, unknown.result, unknown.deadline) == ("UNKNOWN_SESSION", "", None)
    session.refresh_from_db()
    assert session.status == "COMPLETED"


def test_unknown_location_is_recorded_with_the_2003(loopback: Any) -> None:
    sent = command_send(partner=loopback.partner, command="START_SESSION", location_id="NOPE", token=OUR_TOKEN)

    assert (sent.response_status_code, sent.response_result, sent.result) == (2003, "REJECTED", "")
    assert "OCPI 2003" in sent.error


def test_command_send_refuses_bad_arguments(loopback: Any) -> None:
    with pytest.raises(ValidationError, match="location_id"):
        command_send(partner=loopback.partner, command="START_SESSION", token=OUR_TOKEN)
    with pytest.raises(ValidationError, match="not one of our eMSP tokens"):
        command_send(partner=loopback.partner, command="START_SESSION", location_id="LOCG", token="NOPE")
    nobody = make_registered_partner("No commands", [("CPO", "BE", "CPX")]).partner
    with pytest.raises(ValidationError, match="no commands RECEIVER"):
        command_send(partner=nobody, command="STOP_SESSION", session_id="S1")


def test_result_callback_only_from_the_partner_it_was_sent_to(loopback: Any, live_server: Any) -> None:
    sent = command_send(partner=loopback.partner, command="STOP_SESSION", session_id="NO-SUCH-SESSION")
    stranger = make_registered_partner("Stranger", [("CPO", "BE", "CPX")])
    url = f"/ocpi/emsp/2.2.1/commands/STOP_SESSION/{sent.uid}"

    foreign = stranger.client().post(url, {"result": "ACCEPTED"}, format="json")
    unknown = loopback.client().post(
        "/ocpi/emsp/2.2.1/commands/STOP_SESSION/nope", {"result": "ACCEPTED"}, format="json"
    )
    bad = loopback.client().post(url, {"result": "DONE"}, format="json")
    ok = loopback.client().post(
        url, {"result": "REJECTED", "message": [{"language": "en", "text": "no"}]}, format="json"
    )

    assert (foreign.status_code, unknown.status_code) == (404, 404)
    assert bad.json()["status_code"] == 2001 and "result:" in bad.json()["status_message"]
    assert (ok.status_code, ok.json()["status_code"], "data" in ok.json()) == (200, 1000, False)
    sent.refresh_from_db()
    assert (sent.result, sent.result_message) == ("REJECTED", [{"language": "en", "text": "no"}])


def test_missing_result_becomes_timeout_periodically_or_on_read(loopback: Any) -> None:
    first = command_send(partner=loopback.partner, command="STOP_SESSION", session_id="S-1")
    second = command_send(partner=loopback.partner, command="STOP_SESSION", session_id="S-2")
    past = timezone.now() - timedelta(seconds=1)
    CommandRequest.objects.filter(pk__in=[first.pk, second.pk]).update(
        response_result="ACCEPTED", result="", deadline=past
    )

    assert command_refresh(command=first).result == "TIMEOUT"
    assert command_expire_overdue() == 1
    second.refresh_from_db()
    assert second.result == "TIMEOUT"
    # A late result is still accepted (commands.md 6).
    late = loopback.client().post(
        f"/ocpi/emsp/2.2.1/commands/STOP_SESSION/{second.uid}", {"result": "ACCEPTED"}, format="json"
    )
    assert late.json()["status_code"] == 1000
    second.refresh_from_db()
    assert second.result == "ACCEPTED"


def test_ocpi_command_management_command(loopback: Any) -> None:
    out = StringIO()

    call_command(
        "ocpi_command", "ourselves", "START_SESSION", "--location", "LOCG", "--evse", "EVSE-A", "--token", OUR_TOKEN,
        "--wait", "5", stdout=out,
    )  # fmt: skip

    text = out.getvalue()
    assert "CommandResponse: ACCEPTED (OCPI 1000), timeout 10s" in text
    assert "CommandResult: ACCEPTED" in text
    with pytest.raises(CommandError, match="Unknown partner"):
        call_command("ocpi_command", "nobody", "STOP_SESSION", "--session", "S")
    with pytest.raises(CommandError, match="session_id"):
        call_command("ocpi_command", "ourselves", "STOP_SESSION")
