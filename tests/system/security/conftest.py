"""Fixtures of the security suite: two partners per role, clients with odd headers, DB snapshots."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.core import serializers
from rest_framework.test import APIClient

from ocpi_platform.ocpi.throttling import partner_rate_limit_key
from tests.conftest import RegisteredPartner, make_registered_partner

# The apps holding OCPI objects: a refused write must leave every row of them as it was.
MODULE_APPS = ("locations", "tariffs", "tokens", "charging_sessions", "cdrs")


def module_snapshot() -> str:
    """Every row of every OCPI module model, serialized: equal before and after = nothing written."""
    out = []
    for label in MODULE_APPS:
        for model in apps.get_app_config(label).get_models():
            out.append(serializers.serialize("json", model.objects.order_by("pk")))
    return "\n".join(out)


def assert_envelope(response: Any, http_status: int, status_code: int | None = None) -> dict[str, Any]:
    assert response.status_code == http_status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict) and "status_code" in body and "timestamp" in body, body
    if status_code is not None:
        assert body["status_code"] == status_code, body
    return body


def raw_client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.fixture(autouse=True)
def _fresh_rate_limit_buckets() -> Any:
    """Partner ids repeat across tests on SQLite: start each test with full buckets for the ids it may use."""
    from django.core.cache import cache

    keys = [partner_rate_limit_key(pk) for pk in range(1, 200)]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


@pytest.fixture
def emsp_a(db: Any) -> RegisteredPartner:
    return make_registered_partner("eMSP A", [("EMSP", "DE", "EMP")])


@pytest.fixture
def emsp_b(db: Any) -> RegisteredPartner:
    return make_registered_partner("eMSP B", [("EMSP", "DE", "EMQ")])


@pytest.fixture
def cpo_a(db: Any) -> RegisteredPartner:
    return make_registered_partner("CPO A", [("CPO", "BE", "BEC")])


@pytest.fixture
def cpo_b(db: Any) -> RegisteredPartner:
    return make_registered_partner("CPO B", [("CPO", "BE", "CPY")])
