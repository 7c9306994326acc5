"""Locations Receiver (eMSP role): partner CPOs push Locations, EVSEs and Connectors (locations.md 3)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from locations.models import EVSE, Connector, Location
from partners.services import partner_invite
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.cpo_partners import _our_parties, location_doc  # noqa: F401 - _our_parties: autouse fixture
from tests.examples import load_example

LOCATION_EXAMPLES = [
    "location_example.json",
    "location_example_uc2_destination_charger.json",
    "location_example_uc3_destination_charger_not_published.json",
    "location_example_uc4_limited_visibility.json",
    "location_example_uc5_home_charge_point.json",
    "location_example_parking_garage_opening_hours.json",
]
BASE = "/ocpi/emsp/2.2.1/locations"
LOC1 = f"{BASE}/BE/BEC/LOC1"


def _url(doc: dict[str, Any]) -> str:
    return f"{BASE}/{doc['country_code']}/{doc['party_id']}/{doc['id']}"


def _put_example(partner: RegisteredPartner) -> dict[str, Any]:
    doc = load_example("location_example.json")
    response = partner.client().put(LOC1, doc, format="json")
    assert response.status_code == 201, response.json()
    return doc


def _state() -> list[tuple[Any, ...]]:
    """Every stored row of every location: what a replay must leave unchanged."""
    return [
        *Location.objects.order_by("pk").values_list("pk", "name", "last_updated", "received_from_id"),
        *EVSE.objects.order_by("pk").values_list("pk", "status", "last_updated"),
        *Connector.objects.order_by("pk").values_list("pk", "tariff_ids", "last_updated"),
    ]


@pytest.mark.parametrize("name", LOCATION_EXAMPLES)
def test_location_put_example_then_get_equal(example_cpo: RegisteredPartner, name: str) -> None:
    doc = load_example(name)
    client = example_cpo.client()

    created = client.put(_url(doc), doc, format="json")
    got = client.get(_url(doc))

    assert created.status_code == 201
    assert created.json()["status_code"] == 1000
    assert got.status_code == 200
    assert got.json()["data"] == doc
    location = Location.objects.get()
    assert (location.country_code, location.party_id) == (doc["country_code"], doc["party_id"])
    assert location.received_from == example_cpo.partner


def test_location_put_replayed_three_times_same_state_201_then_200(example_cpo: RegisteredPartner) -> None:
    doc = load_example("location_example.json")
    client = example_cpo.client()

    statuses = [client.put(LOC1, doc, format="json").status_code]
    state = _state()
    statuses += [client.put(LOC1, doc, format="json").status_code for _ in range(2)]

    assert statuses == [201, 200, 200]
    assert _state() == state
    assert client.get(LOC1).json()["data"] == doc


def test_location_patch_evse_status_moves_location_last_updated(example_cpo: RegisteredPartner) -> None:
    _put_example(example_cpo)
    patch = load_example("location_patch_example_status.json")
    client = example_cpo.client()

    response = client.patch(f"{LOC1}/3256", patch, format="json")

    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    evse = client.get(f"{LOC1}/3256").json()["data"]
    assert evse["status"] == "CHARGING"
    assert evse["last_updated"] == patch["last_updated"]
    location = client.get(LOC1).json()["data"]
    assert location["last_updated"] == patch["last_updated"]
    assert [e["status"] for e in location["evses"]] == ["CHARGING", "RESERVED"]


def test_location_patch_connector_tariff_ids_moves_parents(example_cpo: RegisteredPartner) -> None:
    _put_example(example_cpo)
    patch = load_example("location_patch_example_tariff.json")
    client = example_cpo.client()

    response = client.patch(f"{LOC1}/3256/2", patch, format="json")

    assert response.status_code == 200
    connector = client.get(f"{LOC1}/3256/2").json()["data"]
    assert connector["tariff_ids"] == ["15"]
    assert connector["last_updated"] == patch["last_updated"]
    assert client.get(f"{LOC1}/3256").json()["data"]["last_updated"] == patch["last_updated"]
    assert (
        client.get(f"{LOC1}/3256/1").json()["data"]
        == load_example("location_example.json")["evses"][0]["connectors"][0]
    )


def test_location_patch_name_and_remove_evse(example_cpo: RegisteredPartner) -> None:
    _put_example(example_cpo)
    client = example_cpo.client()

    name = client.patch(LOC1, load_example("location_patch_example_location.json"), format="json")
    removed = client.patch(f"{LOC1}/3257", load_example("location_patch_example_remove_evse.json"), format="json")

    assert (name.status_code, removed.status_code) == (200, 200)
    data = client.get(LOC1).json()["data"]
    assert data["name"] == "Interparking Gent Zuid"
    assert data["address"] == "F.Rooseveltlaan 3A"
    assert [e["status"] for e in data["evses"]] == ["AVAILABLE", "REMOVED"]


def test_location_patch_replayed_three_times_same_state(example_cpo: RegisteredPartner) -> None:
    _put_example(example_cpo)
    patch = load_example("location_patch_example_status.json")
    client = example_cpo.client()
    client.patch(f"{LOC1}/3256", patch, format="json")
    state = _state()

    statuses = [client.patch(f"{LOC1}/3256", patch, format="json").status_code for _ in range(2)]

    assert statuses == [200, 200]
    assert _state() == state


def test_evse_and_connector_put_create_then_replace(example_cpo: RegisteredPartner) -> None:
    doc = _put_example(example_cpo)
    client = example_cpo.client()
    evse = copy.deepcopy(doc["evses"][0])
    evse.update(uid="3258", evse_id="BE*BEC*E041503003", last_updated="2016-01-01T00:00:00Z")
    for connector in evse["connectors"]:
        connector["last_updated"] = "2016-01-01T00:00:00Z"
    connector = {**evse["connectors"][0], "id": "3", "max_amperage": 32, "last_updated": "2016-02-01T00:00:00Z"}

    statuses = [
        client.put(f"{LOC1}/3258", evse, format="json").status_code,
        client.put(f"{LOC1}/3258", evse, format="json").status_code,
        client.put(f"{LOC1}/3258/3", connector, format="json").status_code,
        client.put(f"{LOC1}/3258/3", connector, format="json").status_code,
    ]

    assert statuses == [201, 200, 201, 200]
    assert client.get(f"{LOC1}/3258/3").json()["data"] == connector
    location = client.get(LOC1).json()["data"]
    assert [e["uid"] for e in location["evses"]] == ["3256", "3257", "3258"]
    assert location["last_updated"] == "2016-02-01T00:00:00Z"  # the connector PUT moved its parents


def test_evse_put_older_than_location_does_not_move_location_back(example_cpo: RegisteredPartner) -> None:
    doc = _put_example(example_cpo)
    client = example_cpo.client()
    evse = copy.deepcopy(doc["evses"][0])
    evse.update(uid="OLD", evse_id=None, last_updated="2010-01-01T00:00:00Z")
    del evse["evse_id"]

    assert client.put(f"{LOC1}/OLD", evse, format="json").status_code == 201
    assert client.get(LOC1).json()["data"]["last_updated"] == doc["last_updated"]


def test_location_stale_put_and_patch_ignored(example_cpo: RegisteredPartner, caplog: Any) -> None:
    doc = _put_example(example_cpo)
    client = example_cpo.client()
    older = {**doc, "name": "Older name", "last_updated": "2015-01-01T00:00:00Z"}
    older_patch = {"status": "OUTOFORDER", "last_updated": "2015-01-01T00:00:00Z"}

    put = client.put(LOC1, older, format="json")
    patch = client.patch(f"{LOC1}/3256", older_patch, format="json")
    connector_patch = client.patch(f"{LOC1}/3256/1", {"max_amperage": 1, **older_patch}, format="json")

    for response in (put, patch, connector_patch):
        assert response.status_code == 200
        assert response.json()["status_code"] == 1000
    assert client.get(LOC1).json()["data"] == doc
    assert "Ignored stale" in caplog.text


def test_location_unknown_objects_are_404(example_cpo: RegisteredPartner) -> None:
    client = example_cpo.client()
    evse = load_example("location_example.json")["evses"][0]
    connector = evse["connectors"][0]
    patch = {"status": "CHARGING", "last_updated": "2019-06-24T12:39:09Z"}

    responses = [
        client.get(LOC1),
        client.patch(LOC1, {"name": "x", "last_updated": "2019-06-24T12:39:09Z"}, format="json"),
        client.put(f"{LOC1}/3256", evse, format="json"),
        client.put(f"{LOC1}/3256/1", connector, format="json"),
    ]
    _put_example(example_cpo)
    responses += [
        client.get(f"{LOC1}/NOPE"),
        client.patch(f"{LOC1}/NOPE", patch, format="json"),
        client.get(f"{LOC1}/3256/9"),
        client.patch(f"{LOC1}/3256/9", patch, format="json"),
        client.put(f"{LOC1}/NOPE/1", connector, format="json"),
    ]

    for response in responses:  # OCPI 2003 Unknown Location (transport.md 6.2) for the location, EVSE, connector
        assert response.status_code == 404, response.json()
        assert response.json()["status_code"] == 2003, response.json()
    assert EVSE.objects.count() == 2


def test_location_party_isolation(example_cpo: RegisteredPartner, other_cpo: RegisteredPartner) -> None:
    """A partner cannot write or read under another partner's party, nor under ours."""
    _put_example(example_cpo)
    foreign = location_doc(1, country_code="FR", party_id="OTH")
    ours = location_doc(2, country_code="NL", party_id="EXA")
    mine_for_b = location_doc(3, country_code="FR", party_id="OTH")
    other = other_cpo.client()

    responses = [
        example_cpo.client().put(_url(foreign), foreign, format="json"),  # B's party
        example_cpo.client().put(_url(ours), ours, format="json"),  # ours: not registered by A
        other.get(LOC1),  # A's location
        other.patch(LOC1, {"name": "hijack", "last_updated": "2030-01-01T00:00:00Z"}, format="json"),
        other.put(f"{LOC1}/3256", load_example("location_example.json")["evses"][0], format="json"),
    ]

    for response in responses:
        assert response.status_code == 404
    assert other.put(_url(mine_for_b), mine_for_b, format="json").status_code == 201
    assert Location.objects.filter(party_id="EXA").count() == 0
    assert Location.objects.get(ocpi_id="LOC1").name == "Gent Zuid"


def test_location_party_of_ours_never_writable_even_if_registered(db: Any) -> None:
    """A partner registering our party code under another role still cannot write our locations."""
    hub = make_registered_partner("Hub", [("HUB", "NL", "EXA")])
    doc = location_doc(1, country_code="NL", party_id="EXA")

    response = hub.client().put(_url(doc), doc, format="json")

    assert response.status_code == 404
    assert not Location.objects.exists()


def test_location_same_party_other_partner_cannot_overwrite(example_cpo: RegisteredPartner) -> None:
    _put_example(example_cpo)
    twin = make_registered_partner("Twin", [("EMSP", "BE", "BEC")])  # same party code, another role
    doc = {**load_example("location_example.json"), "name": "Twin's", "last_updated": "2030-01-01T00:00:00Z"}

    assert twin.client().put(LOC1, doc, format="json").status_code == 404
    assert twin.client().get(LOC1).status_code == 404
    assert Location.objects.get().name == "Gent Zuid"


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"{BASE}/BE/BEC/OTHER", "id"),
        (f"{BASE}/NL/BEC/LOC1", "country_code"),
        (f"{BASE}/BE/BED/LOC1", "party_id"),
    ],
)
def test_location_put_ids_must_match_url(db: Any, url: str, field: str) -> None:
    cpo = make_registered_partner("Three parties", [("CPO", "BE", "BEC"), ("CPO", "NL", "BEC"), ("CPO", "BE", "BED")])

    response = cpo.client().put(url, load_example("location_example.json"), format="json")

    assert response.json()["status_code"] == 2001
    assert f"{field}:" in response.json()["status_message"]
    assert not Location.objects.exists()


def test_evse_and_connector_ids_must_match_url(example_cpo: RegisteredPartner) -> None:
    doc = _put_example(example_cpo)
    client = example_cpo.client()

    evse = client.put(f"{LOC1}/OTHER", doc["evses"][0], format="json").json()
    connector = client.put(f"{LOC1}/3256/9", doc["evses"][0]["connectors"][0], format="json").json()

    assert evse["status_code"] == 2001
    assert "uid" in evse["status_message"]
    assert connector["status_code"] == 2001
    assert "id" in connector["status_message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"publish": "yes"}, "publish"),
        ({"address": 12}, "address"),
        ({"coordinates": {"latitude": 50.8, "longitude": "3.72"}}, "coordinates.latitude"),
        ({"last_updated": "yesterday"}, "last_updated"),
        ({"city": None}, "city"),
    ],
)
def test_location_put_bad_types_2001_naming_field(
    example_cpo: RegisteredPartner, change: dict[str, Any], field: str
) -> None:
    doc = {**load_example("location_example.json"), **change}

    response = example_cpo.client().put(LOC1, doc, format="json")

    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]
    assert not Location.objects.exists()


def test_location_put_missing_field_and_nested_bad_type(example_cpo: RegisteredPartner) -> None:
    missing = load_example("location_example.json")
    del missing["time_zone"]
    nested = load_example("location_example.json")
    nested["evses"][0]["connectors"][0]["max_voltage"] = "220"
    client = example_cpo.client()

    first = client.put(LOC1, missing, format="json").json()
    second = client.put(LOC1, nested, format="json").json()

    assert first["status_code"] == 2001
    assert "time_zone" in first["status_message"]
    assert second["status_code"] == 2001
    assert "evses[0].connectors[0].max_voltage" in second["status_message"]


def test_location_patch_without_last_updated_is_2001(example_cpo: RegisteredPartner) -> None:
    _put_example(example_cpo)

    response = example_cpo.client().patch(f"{LOC1}/3256", {"status": "CHARGING"}, format="json")

    assert response.json()["status_code"] == 2001
    assert "last_updated" in response.json()["status_message"]
    assert EVSE.objects.get(uid="3256").status == "AVAILABLE"


def test_location_unknown_fields_ignored(example_cpo: RegisteredPartner) -> None:
    doc = {**load_example("location_example.json"), "future_field": {"x": 1}}
    doc["evses"][0]["another"] = True

    response = example_cpo.client().put(LOC1, doc, format="json")

    assert response.status_code == 201
    assert "future_field" not in example_cpo.client().get(LOC1).json()["data"]


def test_location_receiver_token_a_is_401(db: Any) -> None:
    from rest_framework.test import APIClient

    from ocpi_platform.ocpi.tokens import token_encode_header

    _partner, token_a = partner_invite(name="Invited CPO")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=token_encode_header(token_a))

    response = client.put(LOC1, load_example("location_example.json"), format="json")

    assert response.status_code == 401
    assert not Location.objects.exists()


def test_location_receiver_base_in_version_details(example_cpo: RegisteredPartner) -> None:
    details = example_cpo.client().get("/ocpi/2.2.1").json()["data"]["endpoints"]

    assert {"identifier": "locations", "role": "RECEIVER", "url": "http://testserver/ocpi/emsp/2.2.1/locations"} in (
        details
    )


@pytest.mark.parametrize("suffix", ["", "/3256", "/3256/1", "/NOPE", "/3256/9"])
def test_location_get_unknown_is_404_2003_without_data(example_cpo: RegisteredPartner, suffix: str) -> None:
    """GET of an unknown Location, EVSE or Connector: HTTP 404 (transport.md 6.1), OCPI 2003 Unknown Location."""
    if suffix.startswith("/NOPE") or suffix == "/3256/9":
        _put_example(example_cpo)  # the location exists; the EVSE or connector does not
        url = f"{LOC1}{suffix}"
    else:
        url = f"{BASE}/BE/BEC/NOLOC{suffix}"

    response = example_cpo.client().get(url)

    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 2003
    assert "data" not in body


def _foreign_loc1(example_cpo: RegisteredPartner, other_cpo: RegisteredPartner) -> None:
    """LOC1 under example_cpo's own party BE/BEC, but sent by another partner (as when a Hub and the CPO both
    relay the same party): set in the database, so the test does not depend on who may hold which party."""
    _put_example(example_cpo)
    Location.objects.filter(ocpi_id="LOC1").update(received_from=other_cpo.partner)


def _answer(response: Any) -> tuple[int, int, str]:
    body = response.json()
    assert "data" not in body
    return response.status_code, body["status_code"], body["status_message"]


def test_location_of_another_partner_is_answered_exactly_as_an_unknown_one(
    example_cpo: RegisteredPartner, other_cpo: RegisteredPartner
) -> None:
    """GET, PATCH, and EVSE/connector PUTs addressing another partner's location (location, EVSE, connector): the
    same status and message as for a location id we never heard of; nothing is written."""
    _foreign_loc1(example_cpo, other_cpo)
    client = example_cpo.client()
    evse = load_example("location_example.json")["evses"][0]
    connector = evse["connectors"][0]
    patch = {"status": "CHARGING", "last_updated": "2030-01-01T00:00:00Z"}
    calls = [
        ("get", "", None),
        ("get", "/3256", None),
        ("get", "/3256/1", None),
        ("patch", "", {"name": "hijack", "last_updated": "2030-01-01T00:00:00Z"}),
        ("patch", "/3256", patch),
        ("patch", "/3256/1", {"max_voltage": 1, "last_updated": "2030-01-01T00:00:00Z"}),
        ("put", "/3256", dict(evse, last_updated="2030-01-01T00:00:00Z")),
        ("put", "/3256/1", dict(connector, last_updated="2030-01-01T00:00:00Z")),
    ]
    before = _state()

    for method, suffix, body in calls:
        kwargs = {"format": "json"} if body is not None else {}
        args = (body,) if body is not None else ()
        foreign = getattr(client, method)(f"{LOC1}{suffix}", *args, **kwargs)
        unknown = getattr(client, method)(f"{BASE}/BE/BEC/LOC9{suffix}", *args, **kwargs)
        status, code, message = _answer(foreign)
        assert (status, code) == (404, 2003), (method, suffix, message)
        assert (status, code, message.replace("LOC1", "LOC9")) == _answer(unknown), (method, suffix)
        assert "another partner" not in message and "Gent Zuid" not in message and "Other CPO" not in message

    assert _state() == before


def test_location_put_over_another_partners_location_is_refused_without_naming_it(
    example_cpo: RegisteredPartner, other_cpo: RegisteredPartner
) -> None:
    """A full PUT would create an unknown location: over another partner's it is refused (404, 2000) with a message
    naming only the URL the caller sent, never the stored object (its name) or that another partner sent it."""
    _foreign_loc1(example_cpo, other_cpo)
    doc = {**load_example("location_example.json"), "name": "Overwritten", "last_updated": "2030-01-01T00:00:00Z"}
    before = _state()

    status, code, message = _answer(example_cpo.client().put(LOC1, doc, format="json"))

    assert (status, code) == (404, 2000)
    assert message == "Location BE/BEC/LOC1 cannot be written by this partner"
    assert _state() == before


def test_location_evse_uid_taken_by_another_location_does_not_name_it(example_cpo: RegisteredPartner) -> None:
    """An EVSE uid already used at another location of the party is 2001 without naming that location."""
    _put_example(example_cpo)
    doc = {**load_example("location_example.json"), "id": "LOC2"}

    response = example_cpo.client().put(f"{BASE}/BE/BEC/LOC2", doc, format="json")

    body = response.json()
    assert body["status_code"] == 2001
    assert "3256" in body["status_message"] and "LOC1" not in body["status_message"]
