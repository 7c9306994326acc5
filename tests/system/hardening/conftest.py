"""Fixtures of the hardening suite: two registered partners, each with objects in every module.

`fuzzer` is the partner the fuzz run authenticates as; `other` holds objects the fuzzer must never see. Every id
of `other`'s objects contains OTHER_MARKER, so a response can be searched for leaked data.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from django.core.cache import cache

from ocpi_platform.ocpi.envelope import format_datetime
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import load_example

OTHER_MARKER = "YSECRET"
OUR_CC, OUR_PID = "NL", "EXA"


@dataclass
class Holder:
    """A partner with a CPO party (BE/cpo) and an eMSP party (DE/emsp), and the ids of its objects."""

    registered: RegisteredPartner
    cpo: tuple[str, str]
    emsp: tuple[str, str]
    prefix: str
    ids: dict[str, str] = field(default_factory=dict)

    def oid(self, kind: str) -> str:
        return f"{self.prefix}-{kind}1"


def _put(holder: Holder, path: str, body: dict[str, Any]) -> None:
    response = holder.registered.client().put(path, body, format="json")
    assert response.status_code in (200, 201) and response.json()["status_code"] == 1000, (path, response.json())


def _populate(holder: Holder) -> None:
    """Objects the holder pushed to us (Receivers) and objects of ours that concern it (Senders)."""
    from cdrs.services import cdr_create_from_session
    from sessions.models import CommandRequest
    from tests.cdrs.factories import cdr_token, example_cdr, make_session, our_connector
    from tests.sessions.factories import ChargingSessionFactory

    client = holder.registered.client()
    now = format_datetime(_now())
    (cpo_cc, cpo_pid), (emsp_cc, emsp_pid) = holder.cpo, holder.emsp

    location = copy.deepcopy(load_example("location_example.json"))
    location.update(country_code=cpo_cc, party_id=cpo_pid, id=holder.oid("LOC"), last_updated=now)
    _put(holder, f"/ocpi/emsp/2.2.1/locations/{cpo_cc}/{cpo_pid}/{holder.oid('LOC')}", location)
    holder.ids.update(
        location_id=holder.oid("LOC"),
        evse_uid=location["evses"][0]["uid"],
        connector_id=location["evses"][0]["connectors"][0]["id"],
    )

    tariff = copy.deepcopy(load_example("tariff_1_simple_2hour.json"))
    tariff.update(country_code=cpo_cc, party_id=cpo_pid, id=holder.oid("TAR"), last_updated=now)
    _put(holder, f"/ocpi/emsp/2.2.1/tariffs/{cpo_cc}/{cpo_pid}/{holder.oid('TAR')}", tariff)
    holder.ids["tariff_id"] = holder.oid("TAR")

    token = copy.deepcopy(load_example("token_put_example.json"))
    token.update(country_code=emsp_cc, party_id=emsp_pid, uid=holder.oid("TOK"), last_updated=now)
    _put(holder, f"/ocpi/cpo/2.2.1/tokens/{emsp_cc}/{emsp_pid}/{holder.oid('TOK')}", token)
    holder.ids["token_uid"] = holder.oid("TOK")

    session = copy.deepcopy(load_example("session_example_1_simple_start.json"))
    session.update(country_code=cpo_cc, party_id=cpo_pid, id=holder.oid("SES"), last_updated=now)
    session["cdr_token"].update(country_code=OUR_CC, party_id=OUR_PID)
    _put(holder, f"/ocpi/emsp/2.2.1/sessions/{cpo_cc}/{cpo_pid}/{holder.oid('SES')}", session)
    holder.ids["session_id"] = holder.oid("SES")

    cdr = example_cdr(country_code=cpo_cc, party_id=cpo_pid, id=holder.oid("CDR"))
    response = client.post("/ocpi/emsp/2.2.1/cdrs", cdr, format="json")
    assert response.json()["status_code"] == 1000, response.json()
    holder.ids["cdr_id"] = response["Location"].rsplit("/", 1)[1]

    # Ours, about the holder's tokens: a running session (Sessions Sender, charging preferences and
    # profiles) and a CDR (CDRs Sender).
    ChargingSessionFactory(
        ocpi_id=holder.oid("OURSES"), cdr_token=cdr_token(emsp_cc, emsp_pid, uid=holder.oid("DRIVER"))
    )
    holder.ids["our_session_id"] = holder.oid("OURSES")
    ended = make_session(
        our_connector(), token=cdr_token(emsp_cc, emsp_pid, uid=holder.oid("DRIVER2")), ocpi_id=holder.oid("OURCDR")
    )
    cdr_create_from_session(session=ended)

    # A command we sent to the holder's CPO: it may post the result to .../commands/START_SESSION/<uid>.
    CommandRequest.objects.create(
        uid=holder.oid("CMD"), direction="SENT", partner=holder.registered.partner, command="START_SESSION"
    )
    holder.ids["uid"] = holder.oid("CMD")


def _now() -> Any:
    from django.utils import timezone

    return timezone.now().replace(microsecond=0)


@pytest.fixture
def rate_limit_off(settings: Any) -> Iterator[None]:
    """The fuzzer sends hundreds of requests a second: the per-partner limit (tested elsewhere) is lifted."""
    settings.OCPI_RATE_LIMIT_PER_SECOND = 0
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def no_outbound_http(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fuzzed response_urls and partner URLs must never be contacted: every outbound request fails fast."""
    attempts: list[str] = []

    def refuse(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(request.url)
        raise requests.ConnectionError(f"outbound HTTP is blocked in the hardening tests: {request.url}")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    return attempts


@pytest.fixture
def world(db: Any, rate_limit_off: None, no_outbound_http: list[str]) -> tuple[Holder, Holder]:
    """(fuzzer, other): two partners with objects in every module, plus objects of our own parties."""
    from tests.cdrs.factories import our_parties, our_tariff
    from tests.locations.factories import location_with_evses
    from tests.tokens.factories import TokenFactory

    our_parties()
    our_tariff()
    location_with_evses(ocpi_id="OUR-LOC1")
    TokenFactory(ocpi_id="OUR-TOK1")
    fuzzer = Holder(
        make_registered_partner("Fuzzer", [("CPO", "BE", "FZC"), ("EMSP", "DE", "FZE")]),
        cpo=("BE", "FZC"),
        emsp=("DE", "FZE"),
        prefix="XMINE",
    )
    other = Holder(
        make_registered_partner("Other", [("CPO", "BE", "OTC"), ("EMSP", "DE", "OTE")]),
        cpo=("BE", "OTC"),
        emsp=("DE", "OTE"),
        prefix=OTHER_MARKER,
    )
    for holder in (fuzzer, other):
        _populate(holder)
    return fuzzer, other
