"""Limits: page size clamped and announced, bodies over the limit refused fast, deep JSON is 400 (never 500)."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings

from tests.conftest import RegisteredPartner, make_registered_partner
from tests.system.security.conftest import assert_envelope, module_snapshot
from tests.system.security.routes import ocpi_routes

pytestmark = pytest.mark.django_db


def _sender_lists() -> list[str]:
    return [
        r.path()
        for r in ocpi_routes()
        if r.view_class.ocpi_endpoint and r.view_class.ocpi_endpoint[1] == "SENDER" and "get" in r.methods
        if r.view_class.ocpi_endpoint[0] not in ("credentials",)
    ]


@override_settings(OCPI_PAGE_LIMIT_MAX=5)
def test_limit_above_the_cap_is_clamped_and_announced_on_a_real_sender_list() -> None:
    from tests.locations.factories import LocationFactory

    partner = make_registered_partner("Puller", [("EMSP", "DE", "EMP")])
    LocationFactory.create_batch(7)
    response = partner.client().get("/ocpi/cpo/2.2.1/locations", {"limit": 1_000_000})
    body = assert_envelope(response, 200, 1000)
    assert len(body["data"]) == 5
    assert response["X-Limit"] == "5"
    assert response["X-Total-Count"] == "7"
    query = parse_qs(urlsplit(response["Link"].split(">")[0].lstrip("<")).query)
    assert query["offset"] == ["5"] and query["limit"] == ["5"]


@override_settings(OCPI_PAGE_LIMIT_MAX=3)
@pytest.mark.parametrize("path", _sender_lists())
def test_every_sender_list_announces_the_cap(path: str) -> None:
    partner = make_registered_partner("Puller", [("EMSP", "DE", "EMP"), ("CPO", "BE", "BEC")])
    response = partner.client().get(path, {"limit": 999999999})
    assert_envelope(response, 200, 1000)
    assert response["X-Limit"] == "3"
    assert len(response.json()["data"]) <= 3
    for bad in ("-1", "abc", "1e9", "99999999999999999999999999"):
        answer = partner.client().get(path, {"limit": bad})
        assert answer.status_code != 500, (path, bad)


def _write_targets(partner: RegisteredPartner) -> list[tuple[str, str]]:
    """(method, path) of every write the URLconf offers, under the caller's own parties where the URL has one."""
    targets = []
    for route in ocpi_routes():
        own = ("DE", "EMP") if route.path().startswith("/ocpi/cpo/") else ("BE", "BEC")
        path = route.path(country_code=own[0], party_id=own[1])
        targets.extend((method, path) for method in route.write_methods if method != "delete")
    return targets


def test_body_over_the_size_limit_is_413_quickly() -> None:
    partner = make_registered_partner("Big mouth", [("EMSP", "DE", "EMP"), ("CPO", "BE", "BEC")])
    body = b'{"x": "' + b"a" * (3 * 1024 * 1024) + b'"}'  # 3 MB > DATA_UPLOAD_MAX_MEMORY_SIZE (2 MB)
    before = module_snapshot()
    for method, path in _write_targets(partner):
        started = time.monotonic()
        response = partner.client().generic(method.upper(), path, body, content_type="application/json")
        elapsed = time.monotonic() - started
        assert_envelope(response, 413, 2000)
        assert elapsed < 1.0, (method, path, elapsed)
    assert module_snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_body_over_the_limit_is_refused_before_it_is_read(live_server: Any) -> None:
    """A 50 MB Content-Length: the answer comes after the headers alone (we never wait for the body)."""
    partner = make_registered_partner("Streamer", [("EMSP", "DE", "EMP")])
    host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
    request = (
        (
            f"PUT /ocpi/cpo/2.2.1/tokens/DE/EMP/T1 HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {partner.auth}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
        ).encode()
        + b"{"
        + b" " * 65536
    )
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert elapsed < 1.0


NESTED_BODIES = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="array-100000"),
    pytest.param(b'{"a":' * 5000 + b"1" + b"}" * 5000, id="object-5000"),
    pytest.param(b'{"a":' * 40 + b"1" + b"}" * 40, id="object-40"),
    pytest.param(b'{"evses": [' * 600 + b"]}" * 600, id="mixed-600"),
    pytest.param(b"[" * 100_000, id="unclosed"),
]


@pytest.mark.parametrize("body", NESTED_BODIES)
def test_deeply_nested_json_is_400_never_500(body: bytes) -> None:
    partner = make_registered_partner("Nester", [("EMSP", "DE", "EMP"), ("CPO", "BE", "BEC")])
    before = module_snapshot()
    answers = {}
    for method, path in _write_targets(partner):
        response = partner.client().generic(method.upper(), path, body, content_type="application/json")
        answers[f"{method.upper()} {path}"] = response.status_code
        assert response.status_code != 500, (method, path)
        assert_envelope(response, response.status_code, 2000)
    # 400 wherever the body is read; 404/405 only where the view first refuses the URL or the state (registered)
    # 401: the hub-only hubclientinfo module refuses a non-hub caller before reading the body
    assert set(answers.values()) <= {400, 401, 404, 405}, answers
    # (the same three refusals once per OCPI version the views are mounted for; hubclientinfo: 2.2.1 and 2.3.0)
    assert list(answers.values()).count(400) >= len(answers) - 3 * 3, answers
    assert module_snapshot() == before
