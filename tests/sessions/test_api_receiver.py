"""eMSP Sessions Receiver through its URLs: envelopes, HTTP codes, party isolation and validation."""

from __future__ import annotations

from typing import Any

import pytest

from sessions.models import ChargingSession
from tests.conftest import make_registered_partner
from tests.examples import load_example

BASE = "/ocpi/emsp/2.2.1/sessions"


def url(country_code: str = "BE", party_id: str = "BEC", session_id: str = "101") -> str:
    return f"{BASE}/{country_code}/{party_id}/{session_id}"


def example(name: str = "session_example_2_short_finished.json", **changes: Any) -> dict[str, Any]:
    return {**load_example(name), **changes}


def assert_envelope(response: Any, http_status: int, ocpi_status: int) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == http_status, body
    assert body["status_code"] == ocpi_status, body
    assert "timestamp" in body
    return body


@pytest.fixture
def bec(db: Any) -> Any:
    """A partner CPO platform hosting BE/BEC and NL/STK (the parties of the spec's session examples)."""
    return make_registered_partner("BEC CPO", [("CPO", "BE", "BEC"), ("CPO", "NL", "STK")])


@pytest.fixture
def client(bec: Any) -> Any:
    return bec.client()


@pytest.mark.parametrize("name", ["session_example_1_simple_start.json", "session_example_2_short_finished.json"])
def test_receiver_put_then_get_returns_the_same_session(client: Any, name: str) -> None:
    session = load_example(name)
    target = url(session["country_code"], session["party_id"], session["id"])

    assert "data" not in assert_envelope(client.put(target, session, format="json"), 201, 1000)
    body = assert_envelope(client.get(target), 200, 1000)

    assert body["data"] == session


def test_receiver_put_replaces_200(client: Any, bec: Any) -> None:
    assert_envelope(client.put(url(), example(), format="json"), 201, 1000)
    replaced = example(status="INVALID", charging_periods=[], last_updated="2015-06-30T00:00:00Z")

    assert_envelope(client.put(url() + "/", replaced, format="json"), 200, 1000)  # trailing slash accepted

    stored = ChargingSession.objects.get()
    assert (stored.status, stored.charging_periods, stored.received_from) == ("INVALID", [], bec.partner)


def test_receiver_patch_appends_periods(client: Any) -> None:
    assert_envelope(client.put(url(), example(last_updated="2019-06-23T08:00:00Z"), format="json"), 201, 1000)

    response = client.patch(url(), load_example("session_patch_example_charging_period.json"), format="json")

    assert_envelope(response, 200, 1000)
    data = assert_envelope(client.get(url()), 200, 1000)["data"]
    assert len(data["charging_periods"]) == 4
    assert data["charging_periods"][-1] == {
        "start_date_time": "2019-06-23T08:16:02Z",
        "dimensions": [{"type": "ENERGY", "volume": 2200}],
    }
    assert (data["kwh"], data["total_cost"], data["last_updated"]) == (
        15,
        {"excl_vat": 0.8, "incl_vat": 0.88},
        "2019-06-23T08:16:02Z",
    )


def test_receiver_patch_of_an_unknown_session_is_404(client: Any) -> None:
    response = client.patch(url(), load_example("session_patch_example_total_cost.json"), format="json")
    assert_envelope(response, 404, 2000)
    assert not ChargingSession.objects.exists()


def test_receiver_patch_requires_last_updated(client: Any) -> None:
    client.put(url(), example(), format="json")
    body = assert_envelope(client.patch(url(), {"kwh": 50}, format="json"), 200, 2001)
    assert "last_updated" in body["status_message"]
    assert ChargingSession.objects.get().kwh != 50


def test_receiver_get_unknown_is_404(client: Any) -> None:
    assert_envelope(client.get(url(session_id="nope")), 404, 2000)


@pytest.mark.parametrize(
    ("target", "body_changes", "field"),
    [
        (url(session_id="999"), {}, "id"),
        (url("NL", "STK"), {}, "country_code"),
        (url(), {"party_id": "STK"}, "party_id"),
    ],
)
def test_receiver_body_ids_must_match_the_url(client: Any, target: str, body_changes: dict, field: str) -> None:
    body = assert_envelope(client.put(target, example(**body_changes), format="json"), 200, 2001)
    assert body["status_message"].split(":")[1].strip() == field
    assert not ChargingSession.objects.exists()


def test_receiver_url_party_must_be_the_callers(client: Any, emsp_partner: Any) -> None:
    assert_envelope(client.put(url("DE", "EMP"), example(country_code="DE", party_id="EMP"), format="json"), 404, 2000)
    # Another partner never writes or reads BE/BEC's sessions.
    client.put(url(), example(), format="json")
    intruder = emsp_partner.client()
    assert_envelope(intruder.put(url(), example(status="INVALID"), format="json"), 404, 2000)
    assert_envelope(
        intruder.patch(url(), load_example("session_patch_example_total_cost.json"), format="json"), 404, 2000
    )
    assert_envelope(intruder.get(url()), 404, 2000)
    assert ChargingSession.objects.get().status == "COMPLETED"


def test_receiver_same_party_code_under_another_partner_cannot_touch_the_session(client: Any) -> None:
    client.put(url(), example(), format="json")
    twin = make_registered_partner("Twin", [("EMSP", "BE", "BEC")])  # same code, other role and platform
    assert_envelope(twin.client().get(url()), 404, 2000)
    assert_envelope(twin.client().put(url(), example(last_updated="2030-01-01T00:00:00Z"), format="json"), 404, 2000)
    assert ChargingSession.objects.get().last_updated.year == 2015


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kwh": "41.12"}, "kwh"),
        ({"id": 101}, "id"),
        ({"cdr_token": {"uid": 5}}, "cdr_token"),
        ({"status": "DONE"}, "status"),
        ({"total_cost": 8.5}, "total_cost"),
    ],
)
def test_receiver_wrong_types_are_2001_naming_the_field(client: Any, changes: dict, field: str) -> None:
    body = assert_envelope(client.put(url(), example(**changes), format="json"), 200, 2001)
    assert field in body["status_message"]
    assert not ChargingSession.objects.exists()


def test_receiver_ignores_unknown_fields_and_refuses_an_end_before_the_start(client: Any) -> None:
    assert_envelope(client.put(url(), example(future_field=[1, 2]), format="json"), 201, 1000)
    bad = example(end_date_time="2015-06-29T20:00:00Z", last_updated="2016-01-01T00:00:00Z")
    assert "end_date_time" in assert_envelope(client.put(url(), bad, format="json"), 200, 2001)["status_message"]


def test_receiver_malformed_json_is_an_envelope(client: Any) -> None:
    response = client.generic("PUT", url(), "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["status_code"] == 2000


def test_receiver_session_another_partner_pushed_is_answered_exactly_as_unknown(client: Any, bec: Any) -> None:
    """A session under the caller's own party (BE/BEC) that another partner pushed (set in the database): GET and
    PATCH get the unknown-session answer, same status and message; PUT is refused without naming the session."""
    other = make_registered_partner("Other CPO", [("CPO", "FR", "OTH")])
    client.put(url(), example(), format="json")
    ChargingSession.objects.update(received_from=other.partner)
    patch = load_example("session_patch_example_total_cost.json")

    for method, body in (("get", None), ("patch", patch)):
        args = (body,) if body is not None else ()
        kwargs = {"format": "json"} if body is not None else {}
        foreign = assert_envelope(getattr(client, method)(url(), *args, **kwargs), 404, 2000)
        unknown = assert_envelope(getattr(client, method)(url(session_id="999"), *args, **kwargs), 404, 2000)
        assert "data" not in foreign
        assert foreign["status_message"].replace("101", "999") == unknown["status_message"], method
        assert "another partner" not in foreign["status_message"]
    put = assert_envelope(client.put(url(), example(last_updated="2030-01-01T00:00:00Z"), format="json"), 404, 2000)
    assert put["status_message"] == "Session BE/BEC/101 cannot be written by this partner"

    stored = ChargingSession.objects.get()
    assert (stored.received_from, stored.last_updated.year) == (other.partner, 2015)
