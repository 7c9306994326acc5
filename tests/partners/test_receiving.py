"""Unit tests of the receiver kernel (partners/receiving.py): party check, claim, stale, racing create."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import IntegrityError

from partners.models import Party, Role
from partners.receiving import (
    Received,
    ReceiveNotAllowedError,
    receive_claim,
    receive_is_stale,
    receive_party_check,
    receive_retrying,
)
from partners.selectors import our_party_get
from tests.conftest import make_registered_partner

log = logging.getLogger("tests.receiving")
T1 = datetime(2025, 1, 1, tzinfo=UTC)
T2 = datetime(2025, 1, 2, tzinfo=UTC)


class Refused(ReceiveNotAllowedError):
    pass


@pytest.fixture
def partner(db: Any) -> Any:
    return make_registered_partner("CPO", [("CPO", "BE", "CPX")]).partner


def test_party_check_refuses_our_parties_and_parties_the_partner_did_not_register(partner: Any) -> None:
    Party.objects.create(role=Role.EMSP, country_code="ZZ", party_id="OUR", name="Ours", active=False)
    with pytest.raises(Refused, match=r"^zz/our is a party of this platform$"):
        receive_party_check(partner=partner, country_code="zz", party_id="our", roles=None, error=Refused)
    with pytest.raises(ReceiveNotAllowedError, match=r"^ZZ/OUR is one of our own parties$"):
        receive_party_check(
            partner=partner, country_code="ZZ", party_id="OUR", roles=None, ours="one of our own parties"
        )
    with pytest.raises(ReceiveNotAllowedError, match=r"^BE/CPX is not a party registered by this partner$"):
        receive_party_check(partner=partner, country_code="BE", party_id="CPX", roles=(Role.EMSP,))
    receive_party_check(partner=partner, country_code="be", party_id="cpx", roles=(Role.CPO, Role.NAP))
    receive_party_check(partner=partner, country_code="FR", party_id="ANY", roles=None)  # the caller checked


def test_claim_never_takes_over_another_partners_object(partner: Any) -> None:
    mine, other, unclaimed = (SimpleNamespace(received_from_id=pk) for pk in (partner.pk, partner.pk + 1, None))

    def refusal() -> Exception:
        return Refused("X cannot be written by this partner")

    assert receive_claim(mine, partner=partner, partial=False, refusal=refusal) is mine
    assert receive_claim(None, partner=partner, partial=False, refusal=refusal) is None
    assert receive_claim(other, partner=partner, partial=True, refusal=refusal) is None  # PATCH: as unknown
    with pytest.raises(Refused, match="cannot be written by this partner"):
        receive_claim(other, partner=partner, partial=False, refusal=refusal)
    with pytest.raises(Refused):
        receive_claim(unclaimed, partner=partner, partial=False, refusal=refusal)
    assert (
        receive_claim(unclaimed, partner=partner, partial=False, refusal=refusal, unclaimed_is_free=True) is unclaimed
    )


def test_older_is_stale_and_logged_equal_and_newer_are_applied(partner: Any, caplog: Any) -> None:
    stored = SimpleNamespace(last_updated=T2)
    with caplog.at_level(logging.INFO, logger="tests.receiving"):
        assert receive_is_stale(stored, last_updated=T1, partner=partner, log=log, name="tariff")
    assert "Ignored stale tariff" in caplog.text
    assert not receive_is_stale(stored, last_updated=T2, partner=partner, log=log)  # equal: applied again
    assert not receive_is_stale(stored, last_updated=T2.replace(day=3), partner=partner, log=log)
    assert not receive_is_stale(None, last_updated=T1, partner=partner, log=log)
    assert not receive_is_stale(SimpleNamespace(last_updated=None), last_updated=T1, partner=partner, log=log)


def test_racing_create_is_run_once_more_then_a_second_failure_propagates(db: Any) -> None:
    calls: list[int] = []

    def loses_once() -> Received:
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("duplicate key")
        return Received("obj", created=False)

    assert receive_retrying(loses_once, log=log, what="thing") == Received("obj", created=False)
    assert len(calls) == 2

    def always() -> Received:
        raise IntegrityError("duplicate key")

    with pytest.raises(IntegrityError):
        receive_retrying(always, log=log, what="thing")


def test_received_is_not_stale_unless_said() -> None:
    received = Received("x", created=True)
    assert (received.obj, received.created, received.stale) == ("x", True, False)


def test_our_party_get(db: Any) -> None:
    cpo = Party.objects.create(role=Role.CPO, country_code="ZZ", party_id="CPA", name="CPO")
    Party.objects.create(role=Role.EMSP, country_code="ZZ", party_id="EMB", name="off", active=False)
    assert our_party_get(country_code="zz", party_id="cpa") == cpo
    assert our_party_get(country_code="ZZ", party_id="CPA", role=Role.CPO) == cpo
    assert our_party_get(country_code="ZZ", party_id="CPA", role=Role.EMSP) is None
    assert our_party_get(country_code="ZZ", party_id="EMB") is None  # inactive
