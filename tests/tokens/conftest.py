"""Fixtures of the tokens tests."""

from __future__ import annotations

import json
import sys
import types
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
    """A stand-in for partners.outbox in every tokens test; returns the outbox_enqueue mock.

    These tests check what the services hand to the outbox; delivery is the outbox's own business (and its
    module registry is still being built).
    """
    module = types.ModuleType("partners.outbox")
    module.outbox_enqueue = mocker.Mock(name="outbox_enqueue")
    mocker.patch.dict(sys.modules, {"partners.outbox": module})
    return module.outbox_enqueue


@pytest.fixture
def emsp_tnm(db: Any) -> Any:
    """A partner eMSP platform hosting DE/TNM and NL/TNM (the parties of the spec's token examples)."""
    return make_registered_partner("TNM eMSP", [("EMSP", "DE", "TNM"), ("EMSP", "NL", "TNM")])
