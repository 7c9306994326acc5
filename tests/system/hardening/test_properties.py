"""Property tests of the canonical serializers through the Receiver endpoints.

Valid Locations, Sessions, CDRs, Tokens and Tariffs are generated from the spec's examples with fields varied
within the spec's types, lengths and enums; each is stored through its Receiver (PUT, or POST for CDRs) and read
back (GET): it must come back unchanged. Single-field mutations of a valid object (wrong type, over-long string,
bad enum value, missing required field), chosen from the object's OpenAPI schema, must be refused with OCPI 2001
naming the field, and store nothing.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ocpi_platform.ocpi.openapi import generate_schema
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.examples import load_example

CPO = ("BE", "PRC")  # the partner's CPO party: Locations, Tariffs, Sessions, CDRs come from it
EMSP = ("DE", "PRE")  # its eMSP party: Tokens come from it
OUR_EMSP = ("NL", "EXA")  # sessions and CDRs pushed to our eMSP are about our tokens

SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("OCPI_PROPERTY_EXAMPLES", "30")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

COMPONENTS = generate_schema()["components"]["schemas"]


@pytest.fixture
def partner(db: Any, settings: Any) -> Iterator[RegisteredPartner]:
    from django.core.cache import cache

    from tests.cdrs.factories import our_parties

    settings.OCPI_RATE_LIMIT_PER_SECOND = 0
    our_parties()
    yield make_registered_partner("Property partner", [("CPO", *CPO), ("EMSP", *EMSP)])
    cache.clear()


# --- Value strategies (transport.md 11) -------------------------------------------------------------------

ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
ID_CHARS = st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
# string(n): printable UTF-8 (no control characters, no surrogates)
UNICODE = st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn"))


def ci_string(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    return st.text(ASCII, min_size=min_size, max_size=max_size)


def text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(UNICODE, min_size=1, max_size=max_size)


def object_id(max_size: int = 36) -> st.SearchStrategy[str]:
    """A fresh id (unique per example) that can stand in a URL segment."""
    return st.text(ID_CHARS, min_size=0, max_size=max_size - 9).map(lambda tail: f"P{uuid.uuid4().hex[:8]}{tail}")


def _cents(value: int) -> int | float:
    return value / 100 if value % 100 else value // 100


DATETIME = st.datetimes(
    min_value=__import__("datetime").datetime(2000, 1, 1), max_value=__import__("datetime").datetime(2099, 12, 31)
).map(lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
AMOUNT = st.integers(min_value=0, max_value=10**7).map(_cents)
VOLUME = st.integers(min_value=0, max_value=10**7).map(lambda milli: milli / 1000 if milli % 1000 else milli // 1000)


def enum(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from(COMPONENTS[name]["enum"])


def enum_list(name: str) -> st.SearchStrategy[list[str]]:
    return st.lists(enum(name), min_size=1, max_size=4, unique=True)


def price() -> st.SearchStrategy[dict[str, Any]]:
    cents = st.integers(min_value=0, max_value=10**7)
    return st.builds(lambda excl, vat: {"excl_vat": _cents(excl), "incl_vat": _cents(excl + vat)}, cents, cents)


# --- Objects, seeded from the spec's examples ---------------------------------------------------------------


@st.composite
def locations(draw: Any) -> dict[str, Any]:
    body = copy.deepcopy(load_example("location_example.json"))
    body.update(
        country_code=CPO[0],
        party_id=CPO[1],
        id=draw(object_id()),
        name=draw(text(255)),
        address=draw(text(255)),
        city=draw(text(45)),
        postal_code=draw(text(10)),
        state=draw(text(45)),
        parking_type=draw(enum("ParkingType")),
        facilities=draw(enum_list("Facility")),
        charging_when_closed=draw(st.booleans()),
        last_updated=draw(DATETIME),
    )
    body["operator"] = {"name": draw(text(100))}
    for evse in body["evses"]:
        evse.update(
            uid=draw(object_id()),  # EVSE uids are unique within the party
            status=draw(enum("EVSEStatus")),
            capabilities=draw(enum_list("Capability")),
            physical_reference=draw(text(16)),
            floor_level=draw(text(4)),
            last_updated=draw(DATETIME),
        )
        for connector in evse["connectors"]:
            connector.update(
                standard=draw(enum("ConnectorType")),
                format=draw(enum("ConnectorFormat")),
                power_type=draw(enum("PowerType")),
                max_voltage=draw(st.integers(0, 2**31 - 1)),
                max_amperage=draw(st.integers(0, 2**31 - 1)),
                max_electric_power=draw(st.integers(0, 2**31 - 1)),
                tariff_ids=draw(st.lists(ci_string(36), min_size=1, max_size=3)),
                last_updated=draw(DATETIME),
            )
    return body


@st.composite
def tariffs(draw: Any) -> dict[str, Any]:
    body = copy.deepcopy(load_example("tariff_1_simple_2hour.json"))
    dimension = draw(enum("TariffDimensionType"))
    component = {
        "type": dimension,
        "price": draw(AMOUNT),
        "vat": draw(st.integers(0, 100)),
        "step_size": draw(st.integers(0 if dimension == "FLAT" else 1, 10**6)),
    }
    restrictions = {
        "day_of_week": draw(enum_list("DayOfWeek")),
        "min_kwh": draw(AMOUNT),
        "max_duration": draw(st.integers(0, 10**6)),
    }
    body.update(
        country_code=CPO[0],
        party_id=CPO[1],
        id=draw(object_id()),
        currency=draw(st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=3, max_size=3)),
        type=draw(enum("TariffType")),
        tariff_alt_text=[{"language": draw(st.sampled_from(["en", "nl", "de"])), "text": draw(text(512))}],
        elements=[{"price_components": [component], "restrictions": restrictions}],
        min_price=draw(price()),
        last_updated=draw(DATETIME),
    )
    return body


@st.composite
def tokens(draw: Any) -> dict[str, Any]:
    body = copy.deepcopy(load_example("token_put_example.json"))
    body.update(
        country_code=EMSP[0],
        party_id=EMSP[1],
        uid=draw(object_id()),
        type=draw(enum("TokenType")),
        contract_id=draw(ci_string(36)),
        visual_number=draw(text(64)),
        issuer=draw(text(64)),
        group_id=draw(ci_string(36)),
        valid=draw(st.booleans()),
        whitelist=draw(enum("WhitelistType")),
        default_profile_type=draw(enum("ProfileType")),
        last_updated=draw(DATETIME),
    )
    return body


@st.composite
def sessions(draw: Any) -> dict[str, Any]:
    body = copy.deepcopy(load_example("session_example_2_short_finished.json"))
    body["cdr_token"].update(
        country_code=OUR_EMSP[0], party_id=OUR_EMSP[1], uid=draw(ci_string(36)), contract_id=draw(ci_string(36))
    )
    body.update(
        country_code=CPO[0],
        party_id=CPO[1],
        id=draw(object_id()),
        kwh=draw(VOLUME),
        auth_method=draw(enum("AuthMethod")),
        meter_id=draw(text(255)),
        status=draw(enum("SessionStatus")),
        total_cost=draw(price()),
        last_updated=draw(DATETIME),
    )
    for period in body.get("charging_periods", []):
        for dimension in period["dimensions"]:
            dimension["volume"] = draw(VOLUME)
    return body


@st.composite
def cdrs(draw: Any) -> dict[str, Any]:
    body = copy.deepcopy(load_example("cdr_example.json"))
    body["cdr_token"].update(country_code=OUR_EMSP[0], party_id=OUR_EMSP[1], uid=draw(ci_string(36)))
    body["cdr_location"].update(
        name=draw(text(255)),
        address=draw(text(45)),
        city=draw(text(45)),
        connector_standard=draw(enum("ConnectorType")),
        connector_format=draw(enum("ConnectorFormat")),
        connector_power_type=draw(enum("PowerType")),
    )
    body.update(
        country_code=CPO[0],
        party_id=CPO[1],
        id=draw(object_id()),
        auth_method=draw(enum("AuthMethod")),
        meter_id=draw(text(255)),
        total_energy=draw(VOLUME),
        total_time=draw(VOLUME),
        total_parking_time=draw(VOLUME),
        remark=draw(text(255)),
        last_updated=draw(DATETIME),
    )
    return body


# --- Receivers ----------------------------------------------------------------------------------------------


def _object_url(kind: str, body: dict[str, Any]) -> str:
    party = f"{body['country_code']}/{body['party_id']}"
    if kind == "Token":
        return f"/ocpi/cpo/2.2.1/tokens/{party}/{quote(body['uid'], safe='')}?type={body['type']}"
    module = {"Location": "locations", "Tariff": "tariffs", "Session": "sessions"}[kind]
    return f"/ocpi/emsp/2.2.1/{module}/{party}/{quote(body['id'], safe='')}"


def store(client: Any, kind: str, body: Any, url_of: dict[str, Any] | None = None) -> tuple[Any, str | None]:
    """Send `body` to its Receiver (at the URL of `url_of`, default `body`); answer the response and where the
    object can be read back."""
    if kind == "Cdr":
        response = client.post("/ocpi/emsp/2.2.1/cdrs", body, format="json")
        location = response.get("Location", "").replace("http://testserver", "") or None
        return response, location
    url = _object_url(kind, url_of or body)
    path, _, query = url.partition("?")
    return client.put(path + (f"?{query}" if query else ""), body, format="json"), url


KINDS: dict[str, Callable[[], st.SearchStrategy[dict[str, Any]]]] = {
    "Location": locations,
    "Tariff": tariffs,
    "Token": tokens,
    "Session": sessions,
    "Cdr": cdrs,
}
SERIALIZERS = {
    "Location": "locations.api.serializers.LocationSerializer",
    "Tariff": "tariffs.api.serializers.TariffSerializer",
    "Token": "tokens.api.serializers.TokenSerializer",
    "Session": "sessions.api.serializers.SessionSerializer",
    "Cdr": "cdrs.api.serializers.CdrSerializer",
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_valid_objects_round_trip_unchanged(kind: str, partner: RegisteredPartner) -> None:
    from django.utils.module_loading import import_string

    client = partner.client()
    serializer_class = import_string(SERIALIZERS[kind])

    @SETTINGS
    @given(body=KINDS[kind]())
    def round_trip(body: dict[str, Any]) -> None:
        serializer = serializer_class(data=copy.deepcopy(body))
        assert serializer.is_valid(), serializer.errors
        response, url = store(client, kind, body)
        assert response.status_code in (200, 201), response.content[:300]
        assert response.json()["status_code"] == 1000, response.json()
        stored = client.get(url)
        assert stored.status_code == 200 and stored.json()["status_code"] == 1000, stored.content[:300]
        assert stored.json()["data"] == body

    round_trip()


# --- Single-field mutations ------------------------------------------------------------------------------------


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in node:
            node = COMPONENTS[node["$ref"].rsplit("/", 1)[1]]
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = {**_resolve(node["allOf"][0]), **{k: v for k, v in node.items() if k != "allOf"}}
        else:
            return node


WRONG_TYPE = {"string": 12345, "integer": "12", "number": "1.5", "boolean": "true", "array": {"a": 1}, "object": "x"}


def mutations(value: Any, schema: dict[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[str, tuple, Any]]:
    """(kind, path, new value or MISSING) for each single-field mutation of `value` that the schema forbids."""
    schema = _resolve(schema)
    if path:
        kind = schema.get("type") or ("string" if "enum" in schema else None)
        if kind in WRONG_TYPE:
            yield "wrong type", path, WRONG_TYPE[kind]
        if "enum" in schema:
            yield "bad enum", path, "NOT_AN_OCPI_VALUE"
        if kind == "string" and "maxLength" in schema:
            yield "over-long", path, "A" * (schema["maxLength"] + 1)
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name in value:
                yield "missing", (*path, name), MISSING
        for name, item in value.items():
            if name in schema.get("properties", {}):
                yield from mutations(item, schema["properties"][name], (*path, name))
    elif isinstance(value, list) and value and "items" in schema:
        yield from mutations(value[0], schema["items"], (*path, 0))


MISSING = object()


def mutate(body: Any, path: tuple[Any, ...], new: Any) -> Any:
    body = copy.deepcopy(body)
    target = body
    for step in path[:-1]:
        target = target[step]
    if new is MISSING:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return body


def _leaf(path: tuple[Any, ...]) -> str:
    return next(str(step) for step in reversed(path) if isinstance(step, str))


@pytest.mark.parametrize("kind", list(KINDS))
def test_single_field_mutations_are_refused_with_2001_naming_the_field(kind: str, partner: RegisteredPartner) -> None:
    from tests.system.security.conftest import module_snapshot

    client = partner.client()

    @SETTINGS
    @given(body=KINDS[kind](), data=st.data())
    def refused(body: dict[str, Any], data: Any) -> None:
        candidates = list(mutations(body, {"$ref": f"#/components/schemas/{kind}"}))
        assert len(candidates) > 20, candidates
        what, path, new = data.draw(st.sampled_from(candidates), label="mutation")
        bad = mutate(body, path, new)
        before = module_snapshot()
        response, _url = store(client, kind, bad, url_of=body)  # the URL of the valid object
        payload = response.json()
        assert response.status_code in (200, 404), (what, path, response.status_code, payload)
        assert payload["status_code"] == 2001, (what, path, payload)
        assert _leaf(path) in payload["status_message"], (what, path, payload["status_message"])
        assert module_snapshot() == before, (what, path)

    refused()
