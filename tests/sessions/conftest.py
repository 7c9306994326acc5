"""Fixtures of the sessions tests: our CPO party, partner eMSPs owning tokens, a partner CPO."""

from __future__ import annotations

from typing import Any

import pytest

from partners.models import Party, Role
from tests.conftest import RegisteredPartner, make_registered_partner

# The outbox's live Receivers, movable clock and in-process worker (tests/outbox/conftest.py).
from tests.outbox.conftest import clock, other_receiver, receiver, runner  # noqa: F401

OUR_CC, OUR_PID = "NL", "EXA"


@pytest.fixture
def our_cpo(db: Any) -> Party:
    """Our CPO party NL/EXA (created on migrate from settings.OCPI_PARTIES; ensured here)."""
    party, _ = Party.objects.get_or_create(
        role=Role.CPO, country_code=OUR_CC, party_id=OUR_PID, defaults={"name": "Example CPO"}
    )
    return party


@pytest.fixture
def other_emsp(db: Any) -> RegisteredPartner:
    """A second partner eMSP (FR/BBB): must never see or get DE/EMP's sessions."""
    return make_registered_partner("Other eMSP", [("EMSP", "FR", "BBB")])
