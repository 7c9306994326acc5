"""Two partners: neither can read, list, count or write the other's objects, in any module.

Partner A and partner B each host one CPO and one eMSP party. Every Receiver object URL under A's party is
tried as B (walked from the URLconf, so new receivers are covered without editing this file); the Sender
interfaces are tried with objects made for A (the apps' factories) and listed as B.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest

from ocpi_platform.ocpi.envelope import format_datetime
from partners.services import partner_invite
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import load_example
from tests.system.security.conftest import assert_envelope, module_snapshot, raw_client
from tests.system.security.routes import Route, ocpi_routes

pytestmark = pytest.mark.django_db

A_CPO, A_EMSP = ("BE", "BEC"), ("DE", "EMP")
B_CPO, B_EMSP = ("BE", "CPY"), ("DE", "EMQ")

# A whole object per Receiver module (spec examples), re-keyed to the URL it is PUT to.
EXAMPLES = {
    "locations": ("location_example.json", "id"),
    "tariffs": ("tariff_1_simple_2hour.json", "id"),
    "tokens": ("token_put_example.json", "uid"),
    "sessions": ("session_example_1_simple_start.json", "id"),
}


@pytest.fixture
def partner_a(db: Any) -> RegisteredPartner:
    return make_registered_partner("Partner A", [("CPO", *A_CPO), ("EMSP", *A_EMSP)])


@pytest.fixture
def partner_b(db: Any) -> RegisteredPartner:
    return make_registered_partner("Partner B", [("CPO", *B_CPO), ("EMSP", *B_EMSP)])


# Modules whose URL party is not the caller's own (a Hub reports other parties): tested on their own below.
NOT_PARTY_OWNED = {"hubclientinfo"}


def _party_routes() -> list[Route]:
    return [
        r
        for r in ocpi_routes()
        if {"country_code", "party_id"} <= set(r.params) and r.methods and _module(r) not in NOT_PARTY_OWNED
    ]


def _module(route: Route) -> str:
    return route.path().split(f"/{route.ocpi_version}/")[1].split("/")[0]


def test_hub_client_info_is_kept_per_hub() -> None:
    """HubClientInfo: hub A's reports are invisible to hub B, B's PUT never touches A's row, non-hubs get nothing."""
    hub_a = make_registered_partner("Hub A", [("HUB", "NL", "HBA")])
    hub_b = make_registered_partner("Hub B", [("HUB", "NL", "HBB")])
    plain = make_registered_partner("Not a hub", [("EMSP", "DE", "EMP")])
    path = "/ocpi/2.2.1/hubclientinfo/FR/XYZ"
    body = {
        "country_code": "FR",
        "party_id": "XYZ",
        "role": "CPO",
        "status": "CONNECTED",
        "last_updated": "2024-01-01T00:00:00Z",
    }
    assert hub_a.client().put(path, body, format="json").json()["status_code"] == 1000
    assert_envelope(hub_a.client().get(path), 200, 1000)
    assert_envelope(hub_b.client().get(path), 404)
    for client in (plain.client(),):
        assert client.get(path).status_code in (401, 403, 404)
        assert client.put(path, dict(body, status="OFFLINE"), format="json").status_code in (401, 403, 404)
    hub_b.client().put(path, dict(body, status="OFFLINE", last_updated="2025-01-01T00:00:00Z"), format="json")
    assert hub_a.client().get(path).json()["data"]["status"] == "CONNECTED"


def _a_party(route: Route) -> tuple[str, str]:
    """Our CPO role receives from eMSPs (A's eMSP party), our eMSP role from CPOs (A's CPO party)."""
    return A_EMSP if route.path().startswith("/ocpi/cpo/") else A_CPO


def _body(route: Route, country_code: str, party_id: str, object_id: str) -> dict[str, Any]:
    example = EXAMPLES.get(_module(route))
    if example is None or len(route.params) != 3:
        return {"country_code": country_code, "party_id": party_id, "last_updated": "2024-01-01T00:00:00Z"}
    name, id_field = example
    body = copy.deepcopy(load_example(name))
    body = body.get("data", body)
    body.update(country_code=country_code, party_id=party_id, last_updated=format_datetime(_now()))
    body[id_field] = object_id
    if _module(route) == "sessions":  # a session a CPO pushes to our eMSP is one of our eMSP's tokens
        body["cdr_token"].update(country_code="NL", party_id="EXA")
    return body


def _now() -> Any:
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)


def _send(client: Any, method: str, path: str, body: dict[str, Any]) -> Any:
    if method in ("put", "patch", "post"):
        return getattr(client, method)(path, body, format="json")
    return getattr(client, method)(path)


@pytest.mark.parametrize("route", _party_routes(), ids=lambda r: r.path())
def test_receiver_objects_under_another_partners_party(
    route: Route, partner_a: RegisteredPartner, partner_b: RegisteredPartner
) -> None:
    cc, pid = _a_party(route)
    object_id = "ISO" + uuid.uuid4().hex[:8].upper()
    # A stores a whole object (a spec example) through the module's object URL; sub-object URLs address
    # the first EVSE / connector of that object.
    base = next(
        (r for r in _party_routes() if _module(r) == _module(route) and len(r.params) == 3 and "put" in r.methods),
        route,
    )
    base_path = base.path(**dict(zip(base.params, (cc, pid, object_id), strict=True)))
    body = _body(base, cc, pid, object_id)
    values = dict(zip(route.params[:3], (cc, pid, object_id), strict=True))
    if len(route.params) > 3:
        evse = body.get("evses", [{}])[0]
        values[route.params[3]] = evse.get("uid", "1")
        if len(route.params) > 4:
            values[route.params[4]] = evse.get("connectors", [{}])[0].get("id", "1")
    path = route.path(**values)
    stored_by_a = False
    if _module(route) in EXAMPLES:
        answer = partner_a.client().put(base_path, body, format="json")
        stored_by_a = answer.status_code in (200, 201) and answer.json().get("status_code") == 1000
        if "get" in route.methods:
            assert_envelope(partner_a.client().get(path), 200, 1000)  # A reaches its own object here
    if len(route.params) > 3:
        body = _sub_body(body, len(route.params))
    before = module_snapshot()

    for method in route.methods:
        response = _send(partner_b.client(), method, path, body)
        if method == "get":
            assert_envelope(response, 404)
        else:  # HTTP 404, or a 2001 envelope: never a success, never a write
            payload = response.json()
            assert response.status_code == 404 or payload["status_code"] == 2001, (method, payload)
        assert module_snapshot() == before, f"{method.upper()} {path} by partner B changed the database"

    # B asking under its own party for A's object id sees nothing either.
    if "get" in route.methods:
        own = dict(values, country_code=_b_party(route)[0], party_id=_b_party(route)[1])
        assert_envelope(partner_b.client().get(route.path(**own)), 404)
    if stored_by_a:
        assert_envelope(partner_a.client().get(path), 200, 1000)


def _sub_body(location: dict[str, Any], depth: int) -> dict[str, Any]:
    """The EVSE (4 URL parameters) or connector (5) of a location body."""
    evse = dict(location["evses"][0], last_updated=location["last_updated"])
    if depth == 4:
        return evse
    return dict(evse["connectors"][0], last_updated=location["last_updated"])


def _b_party(route: Route) -> tuple[str, str]:
    return B_EMSP if route.path().startswith("/ocpi/cpo/") else B_CPO


def test_examples_can_be_stored_by_their_owner(partner_a: RegisteredPartner) -> None:
    """The control of the test above: the owner's PUT of each example really stores it (else 404s prove nothing)."""
    stored = {}
    for route in _party_routes():
        if route.ocpi_version != "2.2.1":
            continue  # the examples are OCPI 2.2.1 objects
        module = _module(route)
        if "put" not in route.methods or len(route.params) != 3 or module not in EXAMPLES:
            continue
        cc, pid = _a_party(route)
        object_id = "OWN" + uuid.uuid4().hex[:6].upper()
        path = route.path(**{route.params[0]: cc, route.params[1]: pid, route.params[2]: object_id})
        response = partner_a.client().put(path, _body(route, cc, pid, object_id), format="json")
        stored[module] = (response.status_code, response.json().get("status_code"), response.json())
    assert set(stored) == {_module(r) for r in _party_routes() if _module(r) in EXAMPLES}, stored
    assert {m for m, (http, code, _) in stored.items() if http in (200, 201) and code == 1000} == set(stored), stored


# --- Sender interfaces: objects made for A, seen by B --------------------------------------------


def _list(partner: RegisteredPartner, path: str) -> tuple[list[dict[str, Any]], int]:
    response = partner.client().get(path, {"limit": 1000})
    body = assert_envelope(response, 200, 1000)
    return body["data"], int(response["X-Total-Count"])


def test_sessions_sender_lists_and_counts_only_the_callers_sessions(
    partner_a: RegisteredPartner, partner_b: RegisteredPartner
) -> None:
    from tests.sessions.factories import ChargingSessionFactory, cdr_token

    mine_a = [ChargingSessionFactory(cdr_token=cdr_token(*A_EMSP, uid=f"A{n}")) for n in range(3)]
    ChargingSessionFactory(cdr_token=cdr_token(*B_EMSP, uid="B1"))
    data, total = _list(partner_b, "/ocpi/cpo/2.2.1/sessions")
    assert [s["cdr_token"]["party_id"] for s in data] == ["EMQ"]
    assert total == 1
    data, total = _list(partner_a, "/ocpi/cpo/2.2.1/sessions")
    assert sorted(s["id"] for s in data) == sorted(s.ocpi_id for s in mine_a) and total == 3

    before = module_snapshot()
    response = partner_b.client().put(
        f"/ocpi/cpo/2.2.1/sessions/{mine_a[0].ocpi_id}/charging_preferences",
        {"profile_type": "FAST", "energy_need": 10},
        format="json",
    )
    assert_envelope(response, 404, 2000)
    assert module_snapshot() == before


def test_charging_profiles_of_another_partners_session_are_refused(
    partner_a: RegisteredPartner, partner_b: RegisteredPartner
) -> None:
    from tests.sessions.factories import ChargingSessionFactory, cdr_token

    session = ChargingSessionFactory(cdr_token=cdr_token(*A_EMSP, uid="A1"))
    before = module_snapshot()
    body = {
        "charging_profile": {"charging_rate_unit": "W", "charging_profile_period": [{"start_period": 0, "limit": 1}]},
        "response_url": "https://partner-b.example/cp/1",
    }
    response = partner_b.client().put(f"/ocpi/cpo/2.2.1/chargingprofiles/{session.ocpi_id}", body, format="json")
    payload = response.json()
    assert payload["data"]["result"] == "UNKNOWN_SESSION", payload
    session_rows = [line for line in module_snapshot().splitlines() if "chargingsession" in line]
    assert session_rows == [line for line in before.splitlines() if "chargingsession" in line]


def test_cdrs_sender_lists_and_counts_only_the_callers_cdrs(
    partner_a: RegisteredPartner, partner_b: RegisteredPartner
) -> None:
    from cdrs.services import cdr_create_from_session
    from tests.cdrs.factories import cdr_token, make_session, our_connector, our_parties, our_tariff

    our_parties()
    our_tariff()
    connector = our_connector()
    for n in range(2):
        cdr_create_from_session(session=make_session(connector, token=cdr_token(*A_EMSP, uid=f"A{n}")))
    cdr_create_from_session(session=make_session(connector, token=cdr_token(*B_EMSP, uid="B1")))
    data, total = _list(partner_b, "/ocpi/cpo/2.2.1/cdrs")
    assert [c["cdr_token"]["party_id"] for c in data] == ["EMQ"] and total == 1
    data, total = _list(partner_a, "/ocpi/cpo/2.2.1/cdrs")
    assert {c["cdr_token"]["party_id"] for c in data} == {"EMP"} and total == 2


def test_cdrs_receiver_another_partners_cdr_is_invisible_and_not_writable(
    partner_a: RegisteredPartner, partner_b: RegisteredPartner
) -> None:
    from tests.cdrs.factories import example_cdr, our_parties

    our_parties()
    body = example_cdr()  # BE/BEC: partner A's CPO party
    response = partner_a.client().post("/ocpi/emsp/2.2.1/cdrs", body, format="json")
    assert_envelope(response, 201, 1000)
    location = response["Location"].replace("http://testserver", "")
    assert_envelope(partner_a.client().get(location), 200, 1000)

    before = module_snapshot()
    assert_envelope(partner_b.client().get(location), 404)
    changed = dict(body, total_energy=999)
    for attempt in (body, changed):
        payload = partner_b.client().post("/ocpi/emsp/2.2.1/cdrs", attempt, format="json").json()
        assert payload["status_code"] == 2001, payload
    assert module_snapshot() == before


def test_tokens_pushed_by_a_partner_are_not_published_or_authorized_to_others(
    partner_a: RegisteredPartner, partner_b: RegisteredPartner
) -> None:
    from tests.tokens.factories import ReceivedTokenFactory, TokenFactory

    ours = TokenFactory()
    theirs = ReceivedTokenFactory(received_from=partner_a.partner, country_code="DE", party_id="EMP")
    data, total = _list(partner_b, "/ocpi/emsp/2.2.1/tokens")
    assert [t["uid"] for t in data] == [ours.ocpi_id] and total == 1
    response = partner_b.client().post(f"/ocpi/emsp/2.2.1/tokens/{theirs.ocpi_id}/authorize", {}, format="json")
    assert_envelope(response, 404, 2004)


def test_locations_and_tariffs_senders_publish_only_our_own_parties(
    partner_a: RegisteredPartner, partner_b: RegisteredPartner
) -> None:
    """Objects of other parties in our database (received from A) are never served by our CPO Sender."""
    from tests.locations.factories import LocationFactory
    from tests.tariffs.factories import make_tariff

    ours = LocationFactory()
    foreign = LocationFactory(country_code=A_CPO[0], party_id=A_CPO[1], ocpi_id="A-LOC")
    make_tariff("OURS")
    make_tariff("A-TARIFF", *A_CPO)
    data, total = _list(partner_b, "/ocpi/cpo/2.2.1/locations")
    assert [loc["id"] for loc in data] == [ours.ocpi_id] and total == 1
    assert_envelope(partner_b.client().get(f"/ocpi/cpo/2.2.1/locations/{foreign.ocpi_id}"), 404)
    data, total = _list(partner_b, "/ocpi/cpo/2.2.1/tariffs")
    assert [t["id"] for t in data] == ["OURS"] and total == 1


def test_command_result_of_a_command_sent_to_another_partner_is_refused(
    partner_a: RegisteredPartner, partner_b: RegisteredPartner
) -> None:
    from sessions.models import CommandRequest

    sent = CommandRequest.objects.create(
        uid=uuid.uuid4().hex, direction="SENT", partner=partner_a.partner, command="START_SESSION"
    )
    path = f"/ocpi/emsp/2.2.1/commands/START_SESSION/{sent.uid}"
    assert_envelope(partner_b.client().post(path, {"result": "ACCEPTED"}, format="json"), 404)
    sent.refresh_from_db()
    assert sent.result == ""
    assert_envelope(partner_a.client().post(path, {"result": "ACCEPTED"}, format="json"), 200, 1000)


# --- Credentials: a party is held by one partner only --------------------------------------------


def test_credentials_update_cannot_take_another_partners_party(
    partner_a: RegisteredPartner, partner_b: RegisteredPartner, fake_partner: Any
) -> None:
    """PUT variant of tests/partners' POST test: B re-registers with A's party (or ours) -> 2001, nothing moves."""
    roles_before = sorted(partner_a.partner.roles.values_list("role", "country_code", "party_id"))
    b_roles_before = sorted(partner_b.partner.roles.values_list("role", "country_code", "party_id"))
    fake_partner.valid_tokens.add("b-rotated")
    for taken in (("EMSP", "de", "emp"), ("CPO", "BE", "BEC"), ("CPO", "NL", "EXA")):
        body = {
            "token": "b-rotated",
            "url": fake_partner.versions_url,
            "roles": [
                {"role": taken[0], "country_code": taken[1], "party_id": taken[2], "business_details": {"name": "B"}}
            ],
        }
        response = partner_b.client().put("/ocpi/2.2.1/credentials", body, format="json")
        assert_envelope(response, 200, 2001)
    assert fake_partner.requests == []  # refused before any outbound call
    assert sorted(partner_a.partner.roles.values_list("role", "country_code", "party_id")) == roles_before
    assert sorted(partner_b.partner.roles.values_list("role", "country_code", "party_id")) == b_roles_before
    assert raw_client(partner_b.auth).get("/ocpi/versions").status_code == 200  # B's token was not rotated


def test_credentials_register_cannot_take_another_partners_party(
    partner_a: RegisteredPartner, fake_partner: Any
) -> None:
    _partner, token_a = partner_invite(name="Newcomer")
    fake_partner.roles = [{"role": "CPO", "country_code": "be", "party_id": "bec", "business_details": {"name": "x"}}]
    fake_partner.valid_tokens.add("newcomer-b")
    body = {"token": "newcomer-b", "url": fake_partner.versions_url, "roles": fake_partner.roles}
    from ocpi_platform.ocpi.tokens import token_encode_header

    response = raw_client(token_encode_header(token_a)).post("/ocpi/2.2.1/credentials", body, format="json")
    assert_envelope(response, 200, 2001)
    assert "another partner" in response.json()["status_message"]
