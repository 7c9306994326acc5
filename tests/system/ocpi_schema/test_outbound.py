"""Every request we send to a partner validates against the spec's models (PATCH bodies as partial objects:
the fields present are valid and last_updated is there). Each request is classified by method and URL; a request
of a kind this test does not know fails it, so a new kind of outbound message gets a schema check too."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from .cdrs import CDR
from .chargingprofiles import ActiveChargingProfileResult, ChargingProfileResult, ClearProfileResult
from .commands import COMMAND_BODIES, CommandResult
from .conftest import Network
from .envelope import partial, problems
from .locations import EVSE, Connector, Location
from .sessions import Session
from .tariffs import Tariff
from .tokens import LocationReferences, Token

pytestmark = pytest.mark.timeout(120)

_ID = r"[^/?]+"
# (method, path regex, model of the body; None = no body). Paths are the FakePartner's (tests/fake_partner.py).
ROUTES: list[tuple[str, str, Any]] = [
    ("PUT", rf"/receiver/locations/{_ID}/{_ID}/{_ID}", Location),
    ("PUT", rf"/receiver/locations/{_ID}/{_ID}/{_ID}/{_ID}", EVSE),
    ("PUT", rf"/receiver/locations/{_ID}/{_ID}/{_ID}/{_ID}/{_ID}", Connector),
    ("PATCH", rf"/receiver/locations/{_ID}/{_ID}/{_ID}", partial(Location)),
    ("PATCH", rf"/receiver/locations/{_ID}/{_ID}/{_ID}/{_ID}", partial(EVSE)),
    ("PATCH", rf"/receiver/locations/{_ID}/{_ID}/{_ID}/{_ID}/{_ID}", partial(Connector)),
    ("PUT", rf"/receiver/tariffs/{_ID}/{_ID}/{_ID}", Tariff),
    ("DELETE", rf"/receiver/tariffs/{_ID}/{_ID}/{_ID}", None),
    ("PUT", rf"/receiver/tokens/{_ID}/{_ID}/{_ID}\?type=[A-Z_]+", Token),
    ("PATCH", rf"/receiver/tokens/{_ID}/{_ID}/{_ID}\?type=[A-Z_]+", partial(Token)),
    ("PUT", rf"/receiver/sessions/{_ID}/{_ID}/{_ID}", Session),
    ("PATCH", rf"/receiver/sessions/{_ID}/{_ID}/{_ID}", partial(Session)),
    ("POST", r"/receiver/cdrs", CDR),
    ("POST", rf"/sender/tokens/{_ID}/authorize(\?type=[A-Z_]+)?", LocationReferences | None),  # body optional
    *[("POST", rf"/receiver/commands/{name}", model) for name, model in COMMAND_BODIES.items()],
    ("POST", r"/results/(start|stop|reserve|cancel|unlock)", CommandResult),
    ("POST", r"/results/set-profile", ChargingProfileResult),
    ("POST", r"/results/active-profile", ActiveChargingProfileResult),
    ("POST", r"/results/clear-profile", ClearProfileResult),
]


def route(method: str, path: str) -> tuple[str, Any]:
    path = path.removeprefix("/ocpi/2.2.1")
    for verb, pattern, model in ROUTES:
        if verb == method and re.fullmatch(pattern, path):
            return f"{verb} {pattern}", model
    raise AssertionError(f"unclassified outbound request {method} {path}: add it to ROUTES with its model")


def test_every_request_we_send_validates(network: Network) -> None:
    seen: Counter[str] = Counter()
    found: list[str] = []
    for request in network.fake.requests:
        kind, model = route(request.method, request.path)
        seen[kind] += 1
        if model is None:
            assert request.body is None, (request.method, request.path)
        else:
            found += problems(model, request.body, f"{request.method} {request.path}")
    assert found == [], "\n".join(found)
    # Every kind of message was really exercised (a scenario that sends nothing would check nothing).
    missing = [f"{verb} {pattern}" for verb, pattern, _ in ROUTES if f"{verb} {pattern}" not in seen]
    assert missing == [], missing
