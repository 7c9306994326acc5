"""Schema-driven fuzzing of every OCPI operation (schemathesis, in-process through the WSGI app).

The fuzzer is a registered partner holding a CPO and an eMSP party; another partner holds objects in every
module too. Path parameters are drawn at random, or set to the ids of the fuzzer's own objects, or to the ids
of the other partner's objects (hypothesis picks), so deep paths (a stored Location's EVSE, a pushed Token, a
session of the caller's token) are reached as well as the other partner's URLs. Checked on every response:
no server error, status code, content type, headers and body as documented, pagination headers on successful
Sender pages, and no access to the other partner's objects.

Bounded in time: the explicit-examples, coverage (OCPI_FUZZ_COVERAGE=0 turns it off) and fuzzing phases with
OCPI_FUZZ_EXAMPLES (default 6) generated examples per operation, positive and negative, from a fixed seed
(OCPI_FUZZ_SEED): about 95 s on SQLite and two cores (43 operations).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ocpi_platform.ocpi.openapi import generate_schema
from ocpi_platform.wsgi import application
from tests.system.hardening.conftest import OTHER_MARKER, Holder

EXAMPLES = int(os.environ.get("OCPI_FUZZ_EXAMPLES", "6"))
SEED = int(os.environ.get("OCPI_FUZZ_SEED", "2210"))

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "generation": {"max-examples": EXAMPLES, "mode": "all"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": os.environ.get("OCPI_FUZZ_COVERAGE", "1") == "1"},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": False},
        },
    }
)

# Built at collection time (one test per operation); requests go to the WSGI app in-process.
SCHEMA = schemathesis.openapi.from_dict(generate_schema(), config=CONFIG)
SCHEMA.app = application
_WORLD: list[Holder] = []  # (fuzzer, other) of the running test, for the hook below


@pytest.fixture
def fuzz_world(world: tuple[Holder, Holder]) -> Iterator[tuple[Holder, Holder]]:
    """The two partners, and the WSGI app inside the test transaction: as Django's test client does, keep the
    connection across requests (request_finished would otherwise close it and end the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    _WORLD[:] = world
    yield world
    _WORLD.clear()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@SCHEMA.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    """Random ids, or all the ids of the fuzzer's own objects, or all those of the other partner's."""
    if not path_parameters or not _WORLD:
        return st.just(path_parameters)
    fuzzer, other = _WORLD
    path = context.operation.path
    return st.sampled_from(
        [path_parameters, _known(fuzzer, path, path_parameters), _known(other, path, path_parameters)]
    )


def _known(holder: Holder, path: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The parameters of `path` set to the ids of `holder`'s objects (all of one holder, never mixed)."""
    cpo_side = path.startswith("/ocpi/cpo/")
    values = dict(holder.ids)
    # Our CPO role receives from the caller's eMSP party, our eMSP role from its CPO party.
    values["country_code"], values["party_id"] = holder.emsp if cpo_side else holder.cpo
    if cpo_side:
        values["session_id"] = holder.ids["our_session_id"]  # Sender/charging profiles: our session
    if path.startswith("/ocpi/emsp/2.2.1/commands/"):
        values["command"] = "START_SESSION"
    return {name: values.get(name, value) for name, value in parameters.items()}


# --- OCPI checks -----------------------------------------------------------------------------------------


def _envelope(response: Any) -> dict[str, Any] | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def make_no_cross_party_access(other: Holder) -> Any:
    foreign_ids = {value for value in other.ids.values() if OTHER_MARKER in value} | {other.ids["cdr_id"]}

    def no_cross_party_access(ctx: Any, response: Any, case: Any) -> None:
        """The fuzzer never gets the other partner's data, nor a success on the other partner's objects."""
        body = _envelope(response)
        if body is None or body.get("status_code") != 1000:
            return
        data = json.dumps(body.get("data"))
        if OTHER_MARKER in data:
            raise AssertionError(f"Cross-party read: {case.method} {case.formatted_path} returned {data[:300]}")
        used = foreign_ids & {str(v) for v in (case.path_parameters or {}).values()}
        if not used:
            return
        if "/chargingprofiles/" in case.path and (body.get("data") or {}).get("result") != "ACCEPTED":
            return  # answered 1000 with UNKNOWN_SESSION / REJECTED: nothing done
        raise AssertionError(
            f"Cross-party access: {case.method} {case.formatted_path} on the other partner's {sorted(used)} "
            f"answered 1000: {json.dumps(body)[:300]}"
        )

    return no_cross_party_access


def ocpi_pagination(ctx: Any, response: Any, case: Any) -> None:
    """transport.md 7: every successful Sender page has X-Total-Count and X-Limit, at most `limit` objects, and
    a Link to the next page exactly when objects remain."""
    if case.method != "GET" or not any(p.name == "limit" for p in case.operation.query):
        return
    body = _envelope(response)
    if body is None or body.get("status_code") != 1000:
        return
    headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    total, cap = int(headers["x-total-count"]), int(headers["x-limit"])
    offset = int((case.query or {}).get("offset") or 0)
    limit = min(int((case.query or {}).get("limit") or 10**9), cap)
    assert len(body["data"]) <= limit, (len(body["data"]), limit)
    assert len(body["data"]) == max(0, min(limit, total - offset)), (len(body["data"]), total, offset, limit)
    has_next = offset + len(body["data"]) < total and len(body["data"]) > 0
    assert ("link" in headers) == has_next, (headers.get("link"), total, offset, len(body["data"]))
    if has_next:
        assert headers["link"].startswith("<http") and headers["link"].endswith('>; rel="next"'), headers["link"]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.mark.timeout(120)
@SCHEMA.parametrize()
@settings(
    deadline=None,
    database=None,
    # The world is built once per operation and shared by its examples on purpose (they may build on each other).
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_fuzz_ocpi_api(case: Any, fuzz_world: tuple[Holder, Holder]) -> None:
    fuzzer, other = fuzz_world
    case.call_and_validate(
        headers={"Authorization": fuzzer.registered.auth},
        checks=CHECKS,
        additional_checks=[make_no_cross_party_access(other), ocpi_pagination],
    )
