"""The models refuse what the spec's tables refuse (a model that accepts everything would check nothing)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.examples import load_example

from .cdrs import CDR
from .commands import StartSession
from .envelope import Envelope, partial, problems
from .locations import EVSE, Location
from .sessions import Session
from .tokens import Token


def changed(name: str, path: str, value: Any) -> dict[str, Any]:
    """The example `name` with the field at dotted `path` set to `value` (`...=DELETE` removes it)."""
    doc = copy.deepcopy(load_example(name))
    *parents, last = path.split(".")
    target = doc
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value == "DELETE":
        del target[last]
    else:
        target[last] = value
    return doc


@pytest.mark.parametrize(
    ("model", "doc", "field"),
    [
        (Location, changed("location_example.json", "future_field", 1), "future_field"),  # closed objects
        (Location, changed("location_example.json", "coordinates.latitude", 51.047599), "coordinates.latitude"),
        (Location, changed("location_example.json", "coordinates.latitude", "51.0475"), "coordinates.latitude"),
        (Location, changed("location_example.json", "country", "BE"), "country"),
        (Location, changed("location_example.json", "country_code", "BEL"), "country_code"),
        (Location, changed("location_example.json", "city", "x" * 46), "city"),
        (Location, changed("location_example.json", "time_zone", "DELETE"), "time_zone"),
        (Location, changed("location_example.json", "publish", "true"), "publish"),  # no coercion
        (Location, changed("location_example.json", "last_updated", "2015-06-29T20:39:09.123456Z"), "last_updated"),
        (Location, changed("location_example.json", "last_updated", "2015-06-29T20:39:09+00:00"), "last_updated"),
        (Location, changed("location_example.json", "last_updated", "2015-06-29 20:39:09Z"), "last_updated"),
        (Location, changed("location_example.json", "evses.0.connectors", []), "evses.0.connectors"),
        (Location, changed("location_example.json", "evses.0.status", "available"), "evses.0.status"),
        (Location, changed("location_example.json", "evses.0.connectors.0.max_voltage", 220.0), "max_voltage"),
        (Location, changed("location_example.json", "evses.0.connectors.0.max_amperage", True), "max_amperage"),
        (Location, changed("location_example.json", "opening_times", {"twentyfourseven": False}), "opening_times"),
        (Location, changed("location_example_uc4_limited_visibility.json", "publish", True), "publish_allowed_to"),
        (Session, changed("session_example_1_simple_start.json", "kwh", "0.0"), "kwh"),
        (Session, changed("session_example_1_simple_start.json", "cdr_token.contract_id", "DELETE"), "contract_id"),
        (CDR, changed("cdr_example.json", "credit", True), "credit_reference_id"),
        (CDR, changed("cdr_example.json", "charging_periods.0.dimensions.0.type", "POWER"), "SHALL NOT be used"),
        (CDR, changed("cdr_example.json", "cdr_location.address", "x" * 46), "cdr_location.address"),
        (Token, changed("token_put_example.json", "whitelist", "SOMETIMES"), "whitelist"),
        (
            StartSession,
            {
                "response_url": "https://x.example/r",
                "token": load_example("token_put_example.json"),
                "location_id": "LOC1",
                "connector_id": "1",
            },
            "evse_uid",
        ),
        (partial(EVSE), {"status": "CHARGING"}, "last_updated"),  # a PATCH carries last_updated
        (partial(EVSE), {"status": None, "last_updated": "2019-06-24T12:39:09Z"}, "status"),
        (Envelope[Token], {"data": None, "status_code": 1000}, "timestamp"),
        (Envelope[Token], {"status_code": 999, "timestamp": "2019-06-24T12:39:09Z"}, "status_code"),
    ],
)
def test_model_refuses_what_the_spec_does_not_allow(model: Any, doc: Any, field: str) -> None:
    found = problems(model, doc, "doc")
    assert any(field in line for line in found), found
