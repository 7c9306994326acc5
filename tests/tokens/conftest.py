"""Fixtures of the tokens tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from partners.models import Party, Role
from tests.conftest import make_registered_partner

EXAMPLES = Path(__file__).parent / "examples"  # copies of shared/ocpi/examples/token*.json


def load_example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text())


@pytest.fixture
def our_emsp(db: Any) -> Party:
    """Our own eMSP party NL/EXA (created on migrate from settings.OCPI_PARTIES; ensured here)."""
    party, _ = Party.objects.get_or_create(
        role=Role.EMSP, country_code="NL", party_id="EXA", defaults={"name": "Example eMSP"}
    )
    return party


@pytest.fixture(autouse=True)
def outbox(mocker: Any) -> Any:
    """The outbox_enqueue mock in every tokens test: they check what the services hand to the outbox;
    delivery itself is tested in test_push.py (which overrides this fixture) and in tests/outbox."""
    return mocker.patch("partners.outbox.outbox_enqueue")


@pytest.fixture
def emsp_tnm(db: Any) -> Any:
    """A partner eMSP platform hosting DE/TNM and NL/TNM (the parties of the spec's token examples)."""
    return make_registered_partner("TNM eMSP", [("EMSP", "DE", "TNM"), ("EMSP", "NL", "TNM")])
