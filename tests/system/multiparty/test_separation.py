"""Several parties on one platform: two CPO parties (NL/EXA, BE/EXB) and two eMSP parties (NL/EXA, NL/EMB) of
ours, and two partners X (CPO DE/XCP + eMSP DE/XEM) and Y (CPO FR/YCP + eMSP FR/YEM). For every module, each
Sender, Receiver and push is correct per party: X never sees Y's data (nor Y X's), pushes come from the object's
own party of ours, and OCPI-to-* narrows a Sender to the addressed party of ours."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cdrs.models import Cdr
from cdrs.services import cdr_create_from_session
from locations.services import location_create
from partners.models import Partner, Party, Role
from partners.services import our_credentials
from tests.cdrs.factories import cdr_token, make_session, our_connector
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import load_example
from tests.fake_partner import FakePartner
from tests.outbox.conftest import location_data
from tests.tariffs.factories import make_tariff
from tokens.services import token_issue

pytestmark = pytest.mark.django_db

CPO1, CPO2 = ("NL", "EXA"), ("BE", "EXB")
EMSP1, EMSP2 = ("NL", "EXA"), ("NL", "EMB")
X_CPO, X_EMSP = ("DE", "XCP"), ("DE", "XEM")
Y_CPO, Y_EMSP = ("FR", "YCP"), ("FR", "YEM")
MODULES = ("locations", "tariffs", "tokens", "sessions", "cdrs")


@pytest.fixture(autouse=True)
def our_parties(db: Any) -> None:
    for role, (cc, pid) in ((Role.CPO, CPO1), (Role.CPO, CPO2), (Role.EMSP, EMSP1), (Role.EMSP, EMSP2)):
        Party.objects.update_or_create(
            role=role, country_code=cc, party_id=pid, defaults={"name": f"Our {role} {cc}/{pid}", "active": True}
        )


@pytest.fixture
def fakes() -> Iterator[dict[str, FakePartner]]:
    made = {"X": FakePartner(check_token=False), "Y": FakePartner(check_token=False)}
    yield made
    for fake in made.values():
        fake.stop()


def _partner(name: str, cpo: tuple[str, str], emsp: tuple[str, str], fake: FakePartner) -> RegisteredPartner:
    registered = make_registered_partner(
        f"Partner {name}",
        [("CPO", *cpo), ("EMSP", *emsp)],
        [(module, "RECEIVER", fake.url(module)) for module in MODULES],
    )
    Partner.objects.filter(pk=registered.partner.pk).update(timeout_seconds=2.0)
    return registered


@pytest.fixture
def x(fakes: Any) -> RegisteredPartner:
    return _partner("X", X_CPO, X_EMSP, fakes["X"])


@pytest.fixture
def y(fakes: Any) -> RegisteredPartner:
    return _partner("Y", Y_CPO, Y_EMSP, fakes["Y"])


def sent(fake: FakePartner, module: str) -> list[tuple[str, str, tuple[str, str], tuple[str, str]]]:
    """(method, path, FROM, TO) of what the partner received for a module."""
    return sorted(
        (
            r.method,
            r.path,
            (r.headers["ocpi-from-country-code"], r.headers["ocpi-from-party-id"]),
            (r.headers["ocpi-to-country-code"], r.headers["ocpi-to-party-id"]),
        )
        for r in fake.requests
        if f"/{module}" in r.path
    )


def to(party: tuple[str, str]) -> dict[str, str]:
    return {"HTTP_OCPI_TO_COUNTRY_CODE": party[0], "HTTP_OCPI_TO_PARTY_ID": party[1]}


def ids(response: Any, key: str = "id") -> list[str]:
    assert response.json()["status_code"] == 1000, response.json()
    return sorted(item[key] for item in response.json()["data"])


def test_our_credentials_list_every_active_party() -> None:
    Party.objects.create(role=Role.EMSP, country_code="PL", party_id="OFF", name="Retired", active=False)

    roles = {(r["role"], r["country_code"], r["party_id"]) for r in our_credentials(token="t")["roles"]}

    assert roles == {("CPO", *CPO1), ("CPO", *CPO2), ("EMSP", *EMSP1), ("EMSP", *EMSP2)}


def test_locations_per_party(x: Any, y: Any, fakes: Any, runner: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        location_create(data=location_data("L1"))
        location_create(data=location_data("L2", country_code=CPO2[0], party_id=CPO2[1]))
    runner.run_due()

    for name, emsp in (("X", X_EMSP), ("Y", Y_EMSP)):
        assert sent(fakes[name], "locations") == [
            ("PUT", "/ocpi/emsp/2.2.1/locations/BE/EXB/L2", CPO2, emsp),
            ("PUT", "/ocpi/emsp/2.2.1/locations/NL/EXA/L1", CPO1, emsp),
        ]
    assert ids(x.client().get("/ocpi/cpo/2.2.1/locations")) == ["L1", "L2"]
    assert ids(x.client(**to(CPO2)).get("/ocpi/cpo/2.2.1/locations")) == ["L2"]

    body = {**load_example("location_example.json"), "country_code": X_CPO[0], "party_id": X_CPO[1], "id": "XL"}
    url = "/ocpi/emsp/2.2.1/locations/DE/XCP/XL"
    assert x.client().put(url, body, format="json").json()["status_code"] == 1000
    assert y.client().put(url, body, format="json").status_code == 404  # Y may not write under X's party
    assert y.client().get(url).status_code == 404  # nor read it
    assert x.client().get(url).json()["data"]["id"] == "XL"
    assert "XL" not in ids(y.client().get("/ocpi/cpo/2.2.1/locations"))  # received ones are never served


def test_tariffs_per_party(x: Any, y: Any, fakes: Any, runner: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_tariff("T1", *CPO1)
        make_tariff("T2", *CPO2)
    runner.run_due()

    for name, emsp in (("X", X_EMSP), ("Y", Y_EMSP)):
        assert sent(fakes[name], "tariffs") == [
            ("PUT", "/ocpi/emsp/2.2.1/tariffs/BE/EXB/T2", CPO2, emsp),
            ("PUT", "/ocpi/emsp/2.2.1/tariffs/NL/EXA/T1", CPO1, emsp),
        ]
    assert ids(y.client().get("/ocpi/cpo/2.2.1/tariffs")) == ["T1", "T2"]
    assert ids(y.client(**to(CPO1)).get("/ocpi/cpo/2.2.1/tariffs")) == ["T1"]

    body = {**load_example("tariff_1_simple_2hour.json"), "country_code": Y_CPO[0], "party_id": Y_CPO[1], "id": "YT"}
    url = "/ocpi/emsp/2.2.1/tariffs/FR/YCP/YT"
    assert y.client().put(url, body, format="json").json()["status_code"] == 1000
    assert x.client().put(url, body, format="json").status_code == 404
    assert x.client().get(url).status_code == 404
    assert x.client().delete(url).status_code == 404


def test_tokens_per_party(x: Any, y: Any, fakes: Any, runner: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        token_issue(country_code=EMSP1[0], party_id=EMSP1[1], uid="TOK1", contract_id="NL-EXA-C00000001", issuer="1")
        token_issue(country_code=EMSP2[0], party_id=EMSP2[1], uid="TOK2", contract_id="NL-EMB-C00000002", issuer="2")
    runner.run_due()

    for name, cpo in (("X", X_CPO), ("Y", Y_CPO)):
        assert sent(fakes[name], "tokens") == [
            ("PUT", "/ocpi/emsp/2.2.1/tokens/NL/EMB/TOK2?type=RFID", EMSP2, cpo),
            ("PUT", "/ocpi/emsp/2.2.1/tokens/NL/EXA/TOK1?type=RFID", EMSP1, cpo),
        ]

    body = {**load_example("token_example_2_full_rfid.json"), "country_code": X_EMSP[0], "party_id": X_EMSP[1]}
    body["uid"] = "XTOK"
    url = "/ocpi/cpo/2.2.1/tokens/DE/XEM/XTOK"
    assert x.client().put(url, body, format="json").json()["status_code"] == 1000
    assert y.client().put(url, body, format="json").status_code == 404
    assert y.client().get(url).status_code == 404
    assert x.client().get(url).json()["data"]["uid"] == "XTOK"
    assert "XTOK" not in ids(y.client().get("/ocpi/emsp/2.2.1/tokens"), "uid")  # Y sees only our tokens


def test_sessions_per_party(
    x: Any,
    y: Any,
    fakes: Any,
    clock: Any,
    moving: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    capture = django_capture_on_commit_callbacks
    with capture(execute=True):
        from sessions.services import session_start

        for session_id, cpo, emsp in (("SX", CPO2, X_EMSP), ("SY", CPO1, Y_EMSP)):
            session_start(
                country_code=cpo[0],
                party_id=cpo[1],
                ocpi_id=session_id,
                location_id="LOC1",
                evse_uid="EVSE1",
                connector_id="1",
                cdr_token=cdr_token(*emsp, uid=f"RFID-{session_id}"),
                auth_method="WHITELIST",
                start_date_time=clock.now,
                currency="EUR",
            )
    moving.run_due()

    assert sent(fakes["X"], "sessions") == [("PUT", "/ocpi/emsp/2.2.1/sessions/BE/EXB/SX", CPO2, X_EMSP)]
    assert sent(fakes["Y"], "sessions") == [("PUT", "/ocpi/emsp/2.2.1/sessions/NL/EXA/SY", CPO1, Y_EMSP)]
    assert ids(x.client().get("/ocpi/cpo/2.2.1/sessions")) == ["SX"]
    assert ids(y.client().get("/ocpi/cpo/2.2.1/sessions")) == ["SY"]
    preferences = {"profile_type": "FAST", "departure_time": "2030-01-01T10:00:00Z", "energy_need": 10}
    assert (
        y.client().put("/ocpi/cpo/2.2.1/sessions/SX/charging_preferences", preferences, format="json").status_code
        == 404
    )

    body = {**load_example("session_example_1_simple_start.json"), "country_code": X_CPO[0], "party_id": X_CPO[1]}
    body["id"] = "XS"
    body["cdr_token"].update(country_code=EMSP2[0], party_id=EMSP2[1])
    url = "/ocpi/emsp/2.2.1/sessions/DE/XCP/XS"
    assert x.client().put(url, body, format="json").json()["status_code"] == 1000
    assert y.client().put(url, body, format="json").status_code == 404
    assert y.client().get(url).status_code == 404


def test_cdrs_per_party(x: Any, y: Any, fakes: Any, runner: Any, django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        make_tariff("T1", *CPO1)
        make_tariff("T2", *CPO2)
        cdr_x = cdr_create_from_session(
            session=make_session(
                our_connector(("T2",), country_code=CPO2[0], party_id=CPO2[1]), token=cdr_token(*X_EMSP)
            )
        )
        cdr_y = cdr_create_from_session(session=make_session(our_connector(("T1",)), token=cdr_token(*Y_EMSP)))
    runner.run_due()

    assert sent(fakes["X"], "cdrs") == [("POST", "/ocpi/emsp/2.2.1/cdrs", CPO2, X_EMSP)]
    assert sent(fakes["Y"], "cdrs") == [("POST", "/ocpi/emsp/2.2.1/cdrs", CPO1, Y_EMSP)]
    assert [r.body["id"] for r in fakes["X"].requests if r.path.endswith("/cdrs")] == [cdr_x.ocpi_id]
    assert ids(x.client().get("/ocpi/cpo/2.2.1/cdrs")) == [cdr_x.ocpi_id]
    assert ids(y.client().get("/ocpi/cpo/2.2.1/cdrs")) == [cdr_y.ocpi_id]
    assert ids(y.client(**to(CPO2)).get("/ocpi/cpo/2.2.1/cdrs")) == []

    body = {**load_example("cdr_example.json"), "country_code": Y_CPO[0], "party_id": Y_CPO[1], "id": "YCDR"}
    body["cdr_token"].update(country_code=EMSP1[0], party_id=EMSP1[1])
    posted = y.client().post("/ocpi/emsp/2.2.1/cdrs", body, format="json")
    assert posted.json()["status_code"] == 1000
    refused = x.client().post("/ocpi/emsp/2.2.1/cdrs", {**body, "id": "XCDR"}, format="json")
    assert refused.json()["status_code"] == 2001  # the body's party is not one of X's (cdrs.md: no URL party)
    assert not Cdr.objects.filter(ocpi_id="XCDR").exists()
    location = posted["Location"].split("/ocpi/", 1)[1]
    assert y.client().get(f"/ocpi/{location}").json()["data"]["id"] == "YCDR"
    assert x.client().get(f"/ocpi/{location}").status_code == 404
