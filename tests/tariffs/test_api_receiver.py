"""Tariffs Receiver (eMSP role): partner CPOs PUT and DELETE their tariffs (tariffs.md 3)."""

from __future__ import annotations

from typing import Any

import pytest

from tariffs.models import Tariff
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.cpo_partners import _our_parties, tariff_doc  # noqa: F401 - _our_parties: autouse fixture
from tests.examples import EXAMPLES, load_example

TARIFF_EXAMPLES = sorted(p.name for p in EXAMPLES.glob("tariff_*.json") if p.name != "tariff_put_example.json")
BASE = "/ocpi/emsp/2.2.1/tariffs"


def _url(doc: dict[str, Any]) -> str:
    return f"{BASE}/{doc['country_code']}/{doc['party_id']}/{doc['id']}"


def _state() -> list[tuple[Any, ...]]:
    return list(
        Tariff.objects.order_by("pk").values_list("pk", "currency", "last_updated", "deleted_at", "received_from_id")
    )


@pytest.mark.parametrize("name", TARIFF_EXAMPLES)
def test_tariff_put_example_then_get_equal(example_cpo: RegisteredPartner, name: str) -> None:
    doc = load_example(name)
    client = example_cpo.client()

    created = client.put(_url(doc), doc, format="json")
    got = client.get(_url(doc))

    assert created.status_code == 201
    assert created.json()["status_code"] == 1000
    assert got.json()["data"] == doc
    assert Tariff.objects.get().received_from == example_cpo.partner


def test_tariff_put_replayed_three_times_same_state_201_then_200(example_cpo: RegisteredPartner) -> None:
    doc = load_example("tariff_4_complex.json")
    client = example_cpo.client()

    statuses = [client.put(_url(doc), doc, format="json").status_code]
    state = _state()
    statuses += [client.put(_url(doc), doc, format="json").status_code for _ in range(2)]

    assert statuses == [201, 200, 200]
    assert _state() == state
    assert client.get(_url(doc)).json()["data"] == doc


def test_tariff_stale_put_ignored_newer_applied(example_cpo: RegisteredPartner, caplog: Any) -> None:
    doc = load_example("tariff_1_simple_2hour.json")
    client = example_cpo.client()
    client.put(_url(doc), doc, format="json")
    older = {**doc, "currency": "USD", "last_updated": "2015-01-01T00:00:00Z"}
    newer = {**doc, "currency": "CHF", "last_updated": "2030-01-01T00:00:00Z"}

    stale = client.put(_url(doc), older, format="json")
    kept = client.get(_url(doc)).json()["data"]
    applied = client.put(_url(doc), newer, format="json")

    assert (stale.status_code, stale.json()["status_code"]) == (200, 1000)
    assert kept == doc
    assert "Ignored stale tariff" in caplog.text
    assert applied.status_code == 200
    assert client.get(_url(doc)).json()["data"] == newer


def test_tariff_delete_then_404_then_put_again(example_cpo: RegisteredPartner) -> None:
    doc = load_example("tariff_5_free_of_charge.json")
    client = example_cpo.client()
    client.put(_url(doc), doc, format="json")

    deleted = client.delete(_url(doc))
    gone = client.get(_url(doc))
    again = client.delete(_url(doc))
    recreated = client.put(_url(doc), doc, format="json")

    assert (deleted.status_code, deleted.json()["status_code"]) == (200, 1000)
    assert gone.status_code == 404
    assert again.status_code == 404
    assert recreated.status_code == 201
    assert client.get(_url(doc)).json()["data"] == doc


def test_tariff_unknown_is_404(example_cpo: RegisteredPartner) -> None:
    client = example_cpo.client()

    for response in (client.get(f"{BASE}/DE/ALL/NOPE"), client.delete(f"{BASE}/DE/ALL/NOPE")):
        assert response.status_code == 404
        assert response.json()["status_code"] == 2000


def test_tariff_party_isolation(example_cpo: RegisteredPartner, other_cpo: RegisteredPartner) -> None:
    doc = load_example("tariff_1_simple_2hour.json")  # DE/ALL: example_cpo's
    example_cpo.client().put(_url(doc), doc, format="json")
    foreign = tariff_doc(1, country_code="FR", party_id="OTH")
    ours = tariff_doc(2, country_code="NL", party_id="EXA")
    other = other_cpo.client()
    twin = make_registered_partner("Twin", [("EMSP", "DE", "ALL")])  # same party code, another role

    responses = [
        example_cpo.client().put(_url(foreign), foreign, format="json"),
        example_cpo.client().put(_url(ours), ours, format="json"),
        other.get(_url(doc)),
        other.delete(_url(doc)),
        other.put(_url(doc), doc, format="json"),
        twin.client().put(_url(doc), {**doc, "last_updated": "2030-01-01T00:00:00Z"}, format="json"),
        twin.client().delete(_url(doc)),
    ]

    for response in responses:
        assert response.status_code == 404
    assert list(Tariff.objects.values_list("party_id", "deleted_at", "last_updated")) == [
        ("ALL", None, Tariff.objects.get().last_updated)
    ]
    assert Tariff.objects.get().received_from == example_cpo.partner


@pytest.mark.parametrize(
    ("url", "field"),
    [(f"{BASE}/DE/ALL/99", "id"), (f"{BASE}/NL/ALL/12", "country_code"), (f"{BASE}/DE/ALX/12", "party_id")],
)
def test_tariff_put_ids_must_match_url(db: Any, url: str, field: str) -> None:
    cpo = make_registered_partner("Three", [("CPO", "DE", "ALL"), ("CPO", "NL", "ALL"), ("CPO", "DE", "ALX")])

    response = cpo.client().put(url, load_example("tariff_1_simple_2hour.json"), format="json")

    assert response.json()["status_code"] == 2001
    assert f"{field}:" in response.json()["status_message"]
    assert not Tariff.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"currency": 978}, "currency"),
        ({"elements": []}, "elements"),
        ({"last_updated": None}, "last_updated"),
        ({"elements": [{"price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 1}]}]}, "price"),
        ({"id": 12}, "id"),
    ],
)
def test_tariff_put_bad_types_2001_naming_field(
    example_cpo: RegisteredPartner, change: dict[str, Any], field: str
) -> None:
    doc = {**load_example("tariff_1_simple_2hour.json"), **change}

    response = example_cpo.client().put(f"{BASE}/DE/ALL/12", doc, format="json")

    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]
    assert not Tariff.objects.exists()


def test_tariff_receiver_token_a_is_401(db: Any) -> None:
    from rest_framework.test import APIClient

    from ocpi_platform.ocpi.tokens import token_encode_header
    from partners.services import partner_invite

    _partner, token_a = partner_invite(name="Invited CPO")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=token_encode_header(token_a))
    doc = load_example("tariff_1_simple_2hour.json")

    assert client.put(_url(doc), doc, format="json").status_code == 401
    assert client.get(_url(doc)).status_code == 401
    assert not Tariff.objects.exists()


def test_tariff_receiver_base_in_version_details(example_cpo: RegisteredPartner) -> None:
    endpoints = example_cpo.client().get("/ocpi/2.2.1").json()["data"]["endpoints"]

    assert {
        "identifier": "tariffs",
        "role": "RECEIVER",
        "url": "http://testserver/ocpi/emsp/2.2.1/tariffs",
    } in endpoints


def test_tariff_of_another_partner_is_answered_exactly_as_an_unknown_one(
    example_cpo: RegisteredPartner, other_cpo: RegisteredPartner
) -> None:
    """A tariff under the caller's own party that another partner sent (set in the database): GET and DELETE get
    the answer of an unknown tariff; PUT is refused (404, 2000) naming only the URL; nothing is written."""
    doc = load_example("tariff_1_simple_2hour.json")
    client = example_cpo.client()
    assert client.put(_url(doc), doc, format="json").status_code == 201
    Tariff.objects.update(received_from=other_cpo.partner)
    unknown_url = f"{BASE}/{doc['country_code']}/{doc['party_id']}/NOSUCH"
    before = _state()

    for method in ("get", "delete"):
        foreign = getattr(client, method)(_url(doc))
        unknown = getattr(client, method)(unknown_url)
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json()["status_code"] == unknown.json()["status_code"] == 2000
        assert "data" not in foreign.json()
        message = foreign.json()["status_message"]
        assert message.replace(doc["id"], "NOSUCH") == unknown.json()["status_message"], method
        assert "another partner" not in message
    put = client.put(_url(doc), dict(doc, currency="USD", last_updated="2030-01-01T00:00:00Z"), format="json")
    assert (put.status_code, put.json()["status_code"]) == (404, 2000)
    assert (
        put.json()["status_message"]
        == f"Tariff {doc['country_code']}/{doc['party_id']}/{doc['id']} cannot be written by this partner"
    )
    assert _state() == before
