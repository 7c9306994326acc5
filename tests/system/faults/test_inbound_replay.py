"""Fault 6: every inbound PUT, PATCH and CDR POST replayed three times (a partner's retries after lost answers)
leaves the same state: 201 then 200, 200 (PATCH: 200 x 3), OCPI 1000 each time, and never a second CDR.

Through the API as a registered partner, with the spec's examples (tests/data/ocpi_examples, via
tests.examples.load_example; the broken ones of spec-issues.md C3/F6 are left out): the Locations, Tariffs and
Sessions Receivers (eMSP role), the Tokens Receiver (CPO role) and the CDRs Receiver. A PATCH is replayed after
the PUT of the object it changes. "The same state" is every row of every model of the locations, tariffs,
tokens, sessions and cdrs apps (audit timestamps that Django sets on every save and surrogate primary keys
excluded), compared after the first request and after the third. The CDR example's token is moved to our eMSP
(a CDRs Receiver only takes CDRs of its own drivers). No worker needed: runs on SQLite and PostgreSQL.

Time bound: 60 s per test (pytest-timeout); the module takes a few seconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.apps import apps

from cdrs.models import Cdr
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import EXAMPLES, load_example

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]

EMSP = "/ocpi/emsp/2.2.1"
CPO = "/ocpi/cpo/2.2.1"
APPS = ("locations", "tariffs", "tokens", "charging_sessions", "cdrs")
# The partner CPO hosts the parties of the spec's Location, Tariff, Session and CDR examples.
CPO_PARTIES = [("CPO", "BE", "BEC"), ("CPO", "SE", "EVC"), ("CPO", "NL", "ALF"), ("CPO", "NL", "ALL"),
               ("CPO", "DE", "ALL"), ("CPO", "NL", "STK")]  # fmt: skip
EMSP_PARTIES = [("EMSP", "DE", "TNM"), ("EMSP", "NL", "TNM")]  # the Token examples'


@dataclass
class Step:
    method: str
    url: str
    body: Any
    emsp: bool = False  # sent by the partner eMSP (Tokens) instead of the partner CPO


@dataclass
class Case:
    replayed: Step
    before: list[Step] = field(default_factory=list)


def put(module: str, name: str, *suffix: str, **changes: Any) -> Step:
    doc = {**load_example(name), **changes}
    object_id = doc.get("id", doc.get("uid"))
    url = "/".join([f"{EMSP}/{module}", doc["country_code"], doc["party_id"], object_id, *suffix])
    return Step("PUT", url, doc)


def token_url(doc: dict[str, Any]) -> str:
    return f"{CPO}/tokens/{doc['country_code']}/{doc['party_id']}/{doc['uid']}?type={doc['type']}"


def token_put(name: str) -> Step:
    doc = load_example(name)
    return Step("PUT", token_url(doc), doc, emsp=True)


LOCATIONS = [
    "location_example.json",
    "location_example_uc2_destination_charger.json",
    "location_example_uc3_destination_charger_not_published.json",
    "location_example_uc4_limited_visibility.json",
    "location_example_uc5_home_charge_point.json",
    "location_example_parking_garage_opening_hours.json",
]
TARIFFS = sorted(p.name for p in EXAMPLES.glob("tariff_*.json") if p.name != "tariff_put_example.json")  # F6
LOC1 = f"{EMSP}/locations/BE/BEC/LOC1"
SESSION_101 = f"{EMSP}/sessions/BE/BEC/101"
TOKEN = load_example("token_put_example.json")
CDR = load_example("cdr_example.json")
CDR["cdr_token"].update(country_code="NL", party_id="EXA")  # a CDR of our eMSP's driver (NL/EXA: test settings)

CASES: dict[str, Case] = {
    **{f"PUT location {n}": Case(put("locations", n)) for n in LOCATIONS},
    "PATCH location": Case(
        Step("PATCH", LOC1, load_example("location_patch_example_location.json")),
        [put("locations", "location_example.json")],
    ),
    "PATCH evse status": Case(
        Step("PATCH", f"{LOC1}/3256", load_example("location_patch_example_status.json")),
        [put("locations", "location_example.json")],
    ),
    "PATCH evse removed": Case(
        Step("PATCH", f"{LOC1}/3257", load_example("location_patch_example_remove_evse.json")),
        [put("locations", "location_example.json")],
    ),
    "PATCH connector tariff_ids": Case(
        Step("PATCH", f"{LOC1}/3256/2", load_example("location_patch_example_tariff.json")),
        [put("locations", "location_example.json")],
    ),
    "PUT evse": Case(
        Step("PUT", f"{LOC1}/3258", {**load_example("location_example.json")["evses"][0], "uid": "3258"}),
        [put("locations", "location_example.json")],
    ),
    **{f"PUT tariff {n}": Case(put("tariffs", n)) for n in TARIFFS},
    **{
        f"PUT session {n}": Case(put("sessions", n))
        for n in ("session_example_1_simple_start.json", "session_example_2_short_finished.json")
    },
    **{
        f"PATCH session {n}": Case(
            Step("PATCH", SESSION_101, load_example(n)),
            [put("sessions", "session_example_2_short_finished.json")],
        )
        for n in ("session_patch_example_charging_period.json", "session_patch_example_total_cost.json")
    },
    **{
        f"PUT token {n}": Case(token_put(n))
        for n in ("token_put_example.json", "token_example_1_app_user.json", "token_example_2_full_rfid.json")
    },
    "PATCH token": Case(
        Step("PATCH", token_url(TOKEN), load_example("token_patch_example.json"), emsp=True),
        [token_put("token_put_example.json")],
    ),
    "POST cdr": Case(Step("POST", f"{EMSP}/cdrs", CDR)),
}


def state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every model of the OCPI apps, without the timestamps Django sets on each save and without
    surrogate keys (a replayed PUT may rewrite child rows, e.g. tariff elements, with the same content)."""
    snapshot = {}
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            audit = [f.attname for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
            audit.append(model._meta.pk.attname)
            snapshot[model._meta.label] = [
                {k: v for k, v in row.items() if k not in audit} for row in model.objects.order_by("pk").values()
            ]
    return snapshot


@pytest.fixture
def cpo() -> RegisteredPartner:
    return make_registered_partner("Example CPO", CPO_PARTIES)


@pytest.fixture
def emsp() -> RegisteredPartner:
    return make_registered_partner("TNM eMSP", EMSP_PARTIES)


def send(step: Step, cpo: RegisteredPartner, emsp: RegisteredPartner) -> Any:
    client = (emsp if step.emsp else cpo).client()
    call = getattr(client, step.method.lower())
    return call(step.url, data=json.dumps(step.body), content_type="application/json")


@pytest.mark.parametrize("name", list(CASES))
def test_inbound_request_replayed_three_times_same_state(
    name: str, cpo: RegisteredPartner, emsp: RegisteredPartner
) -> None:
    case = CASES[name]
    for step in case.before:
        response = send(step, cpo, emsp)
        assert (response.status_code, response.json()["status_code"]) == (201, 1000), response.json()

    answers = [send(case.replayed, cpo, emsp)]
    after_first = state()
    answers += [send(case.replayed, cpo, emsp) for _ in range(2)]

    first = 200 if case.replayed.method == "PATCH" else 201
    assert [(a.status_code, a.json()["status_code"]) for a in answers] == [
        (first, 1000),
        (200, 1000),
        (200, 1000),
    ], [a.json() for a in answers]
    assert state() == after_first
    if case.replayed.method == "POST":
        assert Cdr.objects.count() == 1
        assert len({a["Location"] for a in answers}) == 1
