"""Commands Receiver (our CPO) over the API: synchronous CommandResponse, then the CommandResult POSTed by the
Celery task (eager in tests) to the eMSP's response_url on a live loopback server (tests.fake_partner.FakePartner)."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from cdrs.models import Cdr
from ocpi_platform.ocpi.envelope import format_datetime
from sessions.models import ChargingSession, CommandRequest, Reservation
from tests.conftest import make_registered_partner
from tests.examples import load_example
from tests.fake_partner import FakePartner
from tests.sessions import test_gateway_fixtures as fixtures
from tests.sessions.test_gateway_fixtures import evse
from tokens.models import Token

pytestmark = pytest.mark.django_db

BASE = "/ocpi/cpo/2.2.1/commands"


# Shared fixtures (tests/sessions/conftest.py belongs to the sessions module's own tests).
emsp = fixtures.emsp
fake_emsp = fixtures.fake_emsp
fast_gateway = fixtures.fast_gateway
site = fixtures.site


def app_token(**overrides: Any) -> dict[str, Any]:
    """The spec's APP_USER token example, issued by the partner eMSP DE/EMP."""
    token = copy.deepcopy(load_example("token_example_1_app_user.json"))
    token.update({"country_code": "DE", "party_id": "EMP", **overrides})
    return token


def start_body(fake: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "response_url": f"{fake.base}/results/START_SESSION/1",
        "token": app_token(),
        "location_id": "LOCG",
        "evse_uid": "EVSE-A",
        "authorization_reference": "AUTH-REF-1",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def send(capture: Any, client: Any, command: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    with capture(execute=True):
        response = client.post(f"{BASE}/{command}", body, format="json", **headers)
    payload = response.json()
    payload["http"] = response.status_code
    return payload


def results(fake: Any) -> list[tuple[str, Any]]:
    return [(r.path, r.body) for r in fake.requests if r.path.startswith("/results/")]


@pytest.fixture
def capture(django_capture_on_commit_callbacks: Any) -> Any:
    return django_capture_on_commit_callbacks


# --- START_SESSION ----------------------------------------------------------------------------------


def test_start_session_accepted_starts_a_session_and_posts_accepted(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any
) -> None:
    client = emsp.client(HTTP_X_CORRELATION_ID="corr-42", HTTP_OCPI_TO_COUNTRY_CODE="NL", HTTP_OCPI_TO_PARTY_ID="EXA")

    answer = send(capture, client, "START_SESSION", start_body(fake_emsp))

    assert (answer["http"], answer["status_code"]) == (200, 1000)
    assert answer["data"] == {"result": "ACCEPTED", "timeout": 10}  # 5 s for the charge point + 5 s delivery
    assert results(fake_emsp) == [("/results/START_SESSION/1", {"result": "ACCEPTED"})]
    posted = next(r for r in fake_emsp.requests if r.path.startswith("/results/"))
    assert posted.headers["X-Correlation-ID"] == "corr-42"
    assert (posted.headers["OCPI-from-party-id"], posted.headers["OCPI-to-party-id"]) == ("EXA", "EMP")
    session = ChargingSession.objects.get()
    assert (session.status, session.auth_method, session.authorization_reference) == ("ACTIVE", "COMMAND", "AUTH-REF-1")
    assert (session.evse_uid, session.connector_id, session.token_owner_partner) == ("EVSE-A", "1", emsp.partner)
    assert session.cdr_token["uid"] == "bdf21bce-fc97-11e8-8eb2-f2801f1b9fd1"
    assert evse("EVSE-A").status == "CHARGING"
    stored = CommandRequest.objects.get()
    assert (stored.direction, stored.response_result, stored.result, stored.charging_session) == (
        "RECEIVED", "ACCEPTED", "ACCEPTED", session,
    )  # fmt: skip
    assert stored.posted_at is not None
    token = Token.objects.get(ocpi_id="bdf21bce-fc97-11e8-8eb2-f2801f1b9fd1")
    assert (token.received_from, token.type) == (emsp.partner, "APP_USER")  # stored for later use


@pytest.mark.parametrize(("evse_uid", "expected"), [("EVSE-B", "EVSE_INOPERATIVE"), ("EVSE-C", "EVSE_OCCUPIED")])
def test_start_session_on_an_unusable_evse_posts_the_charge_points_refusal(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any, evse_uid: str, expected: str
) -> None:
    answer = send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp, evse_uid=evse_uid))

    assert answer["data"]["result"] == "ACCEPTED"
    assert results(fake_emsp) == [("/results/START_SESSION/1", {"result": expected, "message": [answer_message()]})]
    assert not ChargingSession.objects.exists()


def answer_message() -> Any:
    class AnyText(dict):
        def __eq__(self, other: object) -> bool:
            return isinstance(other, dict) and other.get("language") == "en" and bool(other.get("text"))

    return AnyText()


@pytest.mark.parametrize(
    "overrides",
    [{"location_id": "NOPE"}, {"evse_uid": "NOPE"}, {"connector_id": "9"}],
    ids=["location", "evse", "connector"],
)
def test_start_session_for_unknown_location_objects_is_2003_with_rejected(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any, overrides: dict[str, str]
) -> None:
    answer = send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp, **overrides))

    assert (answer["http"], answer["status_code"]) == (200, 2003)
    assert answer["data"] == {"result": "REJECTED", "timeout": 0, "message": [answer_message()]}
    assert results(fake_emsp) == []
    assert CommandRequest.objects.get().response_status_code == 2003


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"token": None}, "token"),
        ({"location_id": 12}, "location_id"),
        ({"evse_uid": None, "connector_id": "1"}, "evse_uid"),
        ({"response_url": "not a url"}, "response_url"),
        ({"token": {**app_token(), "type": "CARD"}}, "token.type"),
    ],
    ids=["no-token", "number-location", "connector-without-evse", "bad-url", "bad-token-type"],
)
def test_start_session_bad_bodies_are_2001_naming_the_field(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any, overrides: dict[str, Any], field: str
) -> None:
    body = start_body(fake_emsp, **{k: v for k, v in overrides.items() if v is not None})
    for key in [k for k, v in overrides.items() if v is None]:
        body.pop(key)

    answer = send(capture, emsp.client(), "START_SESSION", body)

    assert answer["status_code"] == 2001
    assert f"{field}:" in answer["status_message"]
    assert not CommandRequest.objects.exists()


def test_start_session_with_another_partys_token_is_404(site: Any, emsp: Any, fake_emsp: Any, capture: Any) -> None:
    answer = send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp, token=app_token(party_id="TNM")))

    assert (answer["http"], answer["status_code"]) == (404, 2000)
    assert not ChargingSession.objects.exists()


def test_routing_header_naming_a_party_of_somebody_else_is_404(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any
) -> None:
    client = emsp.client(HTTP_OCPI_FROM_COUNTRY_CODE="FR", HTTP_OCPI_FROM_PARTY_ID="BBB")

    assert send(capture, client, "START_SESSION", start_body(fake_emsp))["http"] == 404


def test_unknown_command_is_2001(site: Any, emsp: Any, fake_emsp: Any, capture: Any) -> None:
    answer = send(capture, emsp.client(), "START_CHARGING", start_body(fake_emsp))

    assert answer["status_code"] == 2001
    assert "command:" in answer["status_message"]


def test_slow_charge_point_gives_timeout(site: Any, emsp: Any, fake_emsp: Any, capture: Any, settings: Any) -> None:
    settings.OCPI_SIMULATOR_DELAY_SECONDS = 0.5
    settings.OCPI_COMMAND_TIMEOUT_SECONDS = 0.1

    answer = send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp))

    assert answer["data"] == {"result": "ACCEPTED", "timeout": 6}
    assert [body["result"] for _path, body in results(fake_emsp)] == ["TIMEOUT"]
    assert not ChargingSession.objects.exists()


# --- STOP_SESSION -----------------------------------------------------------------------------------


def test_stop_session_completes_the_session_and_issues_the_cdr(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any
) -> None:
    send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp))
    session = ChargingSession.objects.get()
    body = {"response_url": f"{fake_emsp.base}/results/STOP_SESSION/2", "session_id": session.ocpi_id.lower()}

    answer = send(capture, emsp.client(), "STOP_SESSION", body)

    assert answer["data"] == {"result": "ACCEPTED", "timeout": 10}
    assert results(fake_emsp)[-1] == ("/results/STOP_SESSION/2", {"result": "ACCEPTED"})
    session.refresh_from_db()
    assert session.status == "COMPLETED"
    assert Cdr.objects.get().session_id == session.ocpi_id
    assert evse("EVSE-A").status == "AVAILABLE"


def test_stop_session_unknown_or_of_another_partner_is_unknown_session(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any
) -> None:
    send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp))
    session = ChargingSession.objects.get()
    other = make_registered_partner("Other eMSP", [("EMSP", "FR", "BBB")])
    body = {"response_url": f"{fake_emsp.base}/results/STOP_SESSION/3", "session_id": session.ocpi_id}

    theirs = send(capture, other.client(), "STOP_SESSION", body)
    unknown = send(capture, emsp.client(), "STOP_SESSION", {**body, "session_id": "NOPE"})

    assert theirs["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0, "message": [answer_message()]}
    assert unknown["data"]["result"] == "UNKNOWN_SESSION"
    assert [path for path, _ in results(fake_emsp)] == ["/results/START_SESSION/1"]
    session.refresh_from_db()
    assert session.status == "ACTIVE"


def test_stop_session_bad_body_names_the_field(site: Any, emsp: Any, fake_emsp: Any, capture: Any) -> None:
    answer = send(capture, emsp.client(), "STOP_SESSION", {"response_url": f"{fake_emsp.base}/r", "session_id": 5})

    assert answer["status_code"] == 2001
    assert "session_id:" in answer["status_message"]


# --- UNLOCK_CONNECTOR -------------------------------------------------------------------------------


def test_unlock_connector(site: Any, emsp: Any, fake_emsp: Any, capture: Any) -> None:
    body = {
        "response_url": f"{fake_emsp.base}/results/UNLOCK/1",
        "location_id": "LOCG",
        "evse_uid": "EVSE-A",
        "connector_id": "1",
    }

    ok = send(capture, emsp.client(), "UNLOCK_CONNECTOR", body)
    broken = send(capture, emsp.client(), "UNLOCK_CONNECTOR", {**body, "evse_uid": "EVSE-B"})
    unknown = send(capture, emsp.client(), "UNLOCK_CONNECTOR", {**body, "connector_id": "7"})
    missing = send(capture, emsp.client(), "UNLOCK_CONNECTOR", {k: v for k, v in body.items() if k != "connector_id"})

    assert ok["data"]["result"] == broken["data"]["result"] == "ACCEPTED"
    assert [body["result"] for _path, body in results(fake_emsp)] == ["ACCEPTED", "FAILED"]
    assert unknown["status_code"] == 2003
    assert missing["status_code"] == 2001 and "connector_id:" in missing["status_message"]


def test_unlock_connector_on_an_evse_without_the_capability_is_not_supported(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any
) -> None:
    target = evse("EVSE-A")
    target.capabilities = ["RFID_READER"]
    target.save()
    body = {"response_url": f"{fake_emsp.base}/r/1", "location_id": "LOCG", "evse_uid": "EVSE-A", "connector_id": "1"}

    answer = send(capture, emsp.client(), "UNLOCK_CONNECTOR", body)

    assert answer["data"]["result"] == "NOT_SUPPORTED"
    assert results(fake_emsp) == []


# --- RESERVE_NOW / CANCEL_RESERVATION -----------------------------------------------------------------


def reserve_body(fake: Any, **overrides: Any) -> dict[str, Any]:
    body = {
        "response_url": f"{fake.base}/results/RESERVE_NOW/1",
        "token": app_token(),
        "expiry_date": format_datetime(timezone.now() + timedelta(minutes=30)),
        "reservation_id": "R-1",
        "location_id": "LOCG",
        "evse_uid": "EVSE-A",
    }
    body.update(overrides)
    return body


def test_reservation_lifecycle_reserve_start_and_cancel(site: Any, emsp: Any, fake_emsp: Any, capture: Any) -> None:
    answer = send(capture, emsp.client(), "RESERVE_NOW", reserve_body(fake_emsp))

    assert answer["data"]["result"] == "ACCEPTED"
    reservation = Reservation.objects.get()
    assert (reservation.status, reservation.evse_uid) == ("ACTIVE", "EVSE-A")
    assert reservation.session.status == "RESERVATION"
    assert evse("EVSE-A").status == "RESERVED"

    # Another token cannot start on the reserved EVSE; the reservation's token can.
    send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp, token=app_token(uid="SOMEBODY-ELSE")))
    send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp))
    assert [body["result"] for _path, body in results(fake_emsp)] == ["ACCEPTED", "EVSE_OCCUPIED", "ACCEPTED"]
    session = ChargingSession.objects.get()  # the reservation's session became ACTIVE
    assert (session.status, session.evse_uid, session.connector_id) == ("ACTIVE", "EVSE-A", "1")
    reservation.refresh_from_db()
    assert reservation.status == "USED"


def test_cancel_reservation_frees_the_evse_and_unknown_reservations_are_reported(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any
) -> None:
    send(capture, emsp.client(), "RESERVE_NOW", reserve_body(fake_emsp))
    # A new RESERVE_NOW with the same location and reservation_id replaces it (same charge point id).
    send(capture, emsp.client(), "RESERVE_NOW", reserve_body(fake_emsp, authorization_reference="AUTH-2"))
    reservation = Reservation.objects.get()
    assert reservation.authorization_reference == "AUTH-2"
    cancel = {"response_url": f"{fake_emsp.base}/results/CANCEL/1", "reservation_id": "r-1"}

    answer = send(capture, emsp.client(), "CANCEL_RESERVATION", cancel)
    again = send(capture, emsp.client(), "CANCEL_RESERVATION", cancel)

    assert answer["data"]["result"] == again["data"]["result"] == "ACCEPTED"
    assert [body["result"] for _path, body in results(fake_emsp)] == [
        "ACCEPTED", "ACCEPTED", "ACCEPTED", "UNKNOWN_RESERVATION",
    ]  # fmt: skip
    reservation.refresh_from_db()
    assert reservation.status == "CANCELLED"
    assert reservation.session.status == "COMPLETED"
    assert evse("EVSE-A").status == "AVAILABLE"


def test_reserve_now_on_a_broken_evse_and_with_a_past_expiry(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any
) -> None:
    past = format_datetime(timezone.now() - timedelta(minutes=1))

    send(capture, emsp.client(), "RESERVE_NOW", reserve_body(fake_emsp, evse_uid="EVSE-B"))
    expired = send(
        capture, emsp.client(), "RESERVE_NOW", reserve_body(fake_emsp, reservation_id="R-2", expiry_date=past)
    )
    bad = send(capture, emsp.client(), "RESERVE_NOW", reserve_body(fake_emsp, expiry_date="tomorrow"))

    assert [body["result"] for _path, body in results(fake_emsp)] == ["EVSE_INOPERATIVE"]
    assert expired["data"]["result"] == "REJECTED"
    assert bad["status_code"] == 2001 and "expiry_date:" in bad["status_message"]
    assert Reservation.objects.get().status == "FAILED"


# --- delivery of the CommandResult ------------------------------------------------------------------


def test_result_post_is_retried_on_transient_errors(site: Any, emsp: Any, capture: Any) -> None:
    receiver = FakePartner(check_token=False)
    try:
        receiver.fail(503, times=2)
        body = start_body(receiver, response_url=f"{receiver.base}/results/START_SESSION/9")
        emsp.partner.outbound_token = "x"
        emsp.partner.save()

        send(capture, emsp.client(), "START_SESSION", body)

        assert [r.answered for r in receiver.requests] == [503, 503, 200]
        stored = CommandRequest.objects.get()
        assert (stored.post_attempts, stored.error) == (3, "")
        assert stored.posted_at is not None
    finally:
        receiver.stop()


def test_result_post_refused_by_the_emsp_is_recorded_and_not_retried(
    site: Any, emsp: Any, fake_emsp: Any, capture: Any
) -> None:
    fake_emsp.responses["/results/"] = (404, {"status_code": 2000, "timestamp": "2026-01-01T00:00:00Z"})

    send(capture, emsp.client(), "START_SESSION", start_body(fake_emsp))

    stored = CommandRequest.objects.get()
    assert len(results(fake_emsp)) == 1
    assert stored.posted_at is None
    assert "HTTP 404" in stored.error


def test_result_post_to_a_refused_url_is_not_attempted(site: Any, emsp: Any, capture: Any, settings: Any) -> None:
    settings.OCPI_ALLOWED_PRIVATE_NETWORKS = []
    body = {
        "response_url": "http://10.0.0.1/results/1",
        "token": app_token(),
        "location_id": "LOCG",
        "evse_uid": "EVSE-A",
    }

    send(capture, emsp.client(), "START_SESSION", body)

    stored = CommandRequest.objects.get()
    assert stored.result == "ACCEPTED"
    assert "Refused URL" in stored.error
