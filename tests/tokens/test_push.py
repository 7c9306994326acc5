"""Our eMSP tokens reach every partner CPO's Tokens Receiver through the outbox, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_registered_partner
from tokens.services import token_block, token_issue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def outbox() -> None:
    """The real outbox here (the tokens conftest replaces it with a mock elsewhere)."""
    return


def test_new_token_is_put_and_a_block_is_patched(fake_partner: Any) -> None:
    fake_partner.roles = [{"role": "CPO", "country_code": "BE", "party_id": "CPX", "business_details": {"name": "x"}}]
    receiver = fake_partner.url("tokens", "RECEIVER")
    cpo = make_registered_partner("CPO X", [("CPO", "BE", "CPX")], [("tokens", "RECEIVER", receiver)])
    fake_partner.valid_tokens.add(cpo.partner.outbound_token)
    bystander = make_registered_partner("NSP", [("NSP", "FR", "NSP")], [("locations", "RECEIVER", receiver)])

    token = token_issue(
        country_code="NL",
        party_id="EXA",
        uid="CARD001",
        type="RFID",
        contract_id="NL-EXA-C12345678-X",
        issuer="Example",
    )
    token_block(token=token)

    sent = [(r.method, r.path, r.body) for r in fake_partner.requests]
    assert [m for m, _, _ in sent] == ["PUT", "PATCH"]
    assert sent[0][1] == "/ocpi/2.2.1/receiver/tokens/NL/EXA/CARD001?type=RFID"
    assert sent[0][2]["uid"] == "CARD001"
    assert sent[0][2]["valid"] is True
    assert sent[1][2]["valid"] is False
    assert "last_updated" in sent[1][2]
    headers = fake_partner.requests[0].headers
    assert headers["OCPI-from-country-code"] == "NL"
    assert headers["OCPI-from-party-id"] == "EXA"
    assert headers["OCPI-to-country-code"] == "BE"
    assert headers["OCPI-to-party-id"] == "CPX"
    assert bystander.partner.outbox_deliveries.count() == 0
