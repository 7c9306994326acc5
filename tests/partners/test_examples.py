"""The specification's credentials and versions examples through our serializers and discovery."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ocpi_platform.ocpi.client import OcpiClient
from partners.models import Partner
from partners.serializers import CredentialsSerializer
from partners.services import _discover
from tests.examples import load_example


def load(name: str) -> Any:
    return load_example(name)


@pytest.mark.parametrize(
    "name",
    ["credentials_example.json", "credentials_example2.json", "credentials_example3.json", "credentials_example4.json"],
)
def test_credentials_examples_round_trip(name: str) -> None:
    example = load(name)
    serializer = CredentialsSerializer(data=example)
    assert serializer.is_valid(), serializer.errors
    assert json.loads(json.dumps(CredentialsSerializer(serializer.validated_data).data)) == example


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["version_details_example.json", "version_details_example2.json"])
def test_version_details_examples_are_understood(name: str, fake_partner: Any) -> None:
    details = load(name)
    fake_partner.responses["/ocpi/2.2.1"] = (
        200,
        {"data": details, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"},
    )
    discovery = _discover(OcpiClient(token=fake_partner.token_a), fake_partner.versions_url, partner=Partner(name="X"))
    # the credentials endpoint's role carries no meaning and is stored as SENDER (spec-issues B1)
    expected = {
        (e["identifier"], "SENDER" if e["identifier"] == "credentials" else e["role"], e["url"])
        for e in details["endpoints"]
    }
    assert {(e["identifier"], e["role"], e["url"]) for e in discovery.endpoints} == expected


def test_versions_examples_parse() -> None:
    for name in ("versions_info_example.json", "transport_and_format_version_info_example.json"):
        example = load(name)
        versions = example["data"] if isinstance(example, dict) and "data" in example else example
        assert all({"version", "url"} <= set(v) for v in versions)
