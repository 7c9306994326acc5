"""CDR fixtures: our parties, a partner eMSP (token owner DE/EMP), a partner CPO (BE/BEC, the spec example's),
a live CDRs Receiver, and the outbox clock/runner of tests/outbox."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.cdrs.factories import our_parties
from tests.conftest import RegisteredPartner, make_registered_partner
from tests.fake_partner import FakePartner
from tests.outbox.conftest import clock, runner  # noqa: F401 - outbox fixtures


@pytest.fixture(autouse=True)
def _our_parties(db: Any) -> None:
    our_parties()


@pytest.fixture
def cdr_receiver() -> Iterator[FakePartner]:
    fake = FakePartner(check_token=False, cdr_store=True)
    yield fake
    fake.stop()


@pytest.fixture
def token_owner(cdr_receiver: FakePartner) -> RegisteredPartner:
    """Partner eMSP DE/EMP with its CDRs Receiver on `cdr_receiver`."""
    registered = make_registered_partner(
        "eMSP DE/EMP", [("EMSP", "DE", "EMP")], [("cdrs", "RECEIVER", cdr_receiver.url("cdrs"))]
    )
    registered.partner.timeout_seconds = 1.0
    registered.partner.save(update_fields=["timeout_seconds"])
    return registered


@pytest.fixture
def partner_cpo(db: Any) -> RegisteredPartner:
    """Partner CPO BE/BEC: the party of the spec's cdr_example.json."""
    return make_registered_partner("CPO BE/BEC", [("CPO", "BE", "BEC")])
