"""Tariff model constraints, QuerySet filters and selectors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from ocpi_platform.ocpi.headers import PartyRef
from partners.models import Party, Role
from tariffs.models import Tariff
from tariffs.selectors import (
    party_is_our_cpo,
    tariff_get,
    tariff_get_by_key,
    tariff_is_ours,
    tariff_list_by_ids,
    tariff_list_published,
)
from tariffs.services import tariff_create, tariff_delete

from .factories import make_tariff, our_cpo, tariff_body, validated

pytestmark = pytest.mark.django_db


def _row(**kwargs: object) -> Tariff:
    defaults = {
        "country_code": "NL",
        "party_id": "EXA",
        "ocpi_id": "X",
        "currency": "EUR",
        "last_updated": datetime.now(UTC),
    }
    return Tariff.objects.create(**{**defaults, **kwargs})


def test_unique_constraint_is_case_insensitive_on_all_key_fields() -> None:
    _row(ocpi_id="abc")
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(country_code="nl", party_id="exa", ocpi_id="ABC")
    _row(ocpi_id="abd")
    _row(party_id="EXB", ocpi_id="abc")
    assert Tariff.objects.count() == 3


def test_price_incl_vat_needs_excl_vat() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(min_price_incl_vat=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        _row(ocpi_id="Y", max_price_incl_vat=1)


def test_owned_by_us_only_keeps_our_active_cpo_parties() -> None:
    our_cpo("NL", "EXA")
    Party.objects.create(role=Role.EMSP, country_code="DE", party_id="EMP", name="our eMSP only")
    Party.objects.create(role=Role.CPO, country_code="FR", party_id="OFF", name="inactive", active=False)
    ours = make_tariff("A")
    make_tariff("B", country_code="DE", party_id="EMP")
    make_tariff("C", country_code="FR", party_id="OFF")
    make_tariff("D", country_code="BE", party_id="CPX")

    assert list(Tariff.objects.owned_by_us()) == [ours]
    assert tariff_is_ours(tariff=ours)
    assert party_is_our_cpo(country_code="nl", party_id="exa")
    assert not party_is_our_cpo(country_code="DE", party_id="EMP")


def test_for_party_and_changed_between() -> None:
    t1 = tariff_create(data=validated(tariff_body("1")), last_updated=datetime(2024, 1, 1, tzinfo=UTC))
    t2 = tariff_create(data=validated(tariff_body("2")), last_updated=datetime(2024, 2, 1, tzinfo=UTC))
    t3 = tariff_create(data=validated(tariff_body("3", party_id="OTH")), last_updated=datetime(2024, 3, 1, tzinfo=UTC))

    assert list(Tariff.objects.for_party("nl", "exa")) == [t1, t2]
    window = Tariff.objects.changed_between(datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    assert list(window) == [t1, t2]  # from inclusive, to exclusive
    assert list(Tariff.objects.changed_between(datetime(2024, 2, 1, tzinfo=UTC), None)) == [t2, t3]
    assert list(Tariff.objects.changed_between(None, datetime(2024, 2, 1, tzinfo=UTC))) == [t1]


def test_tariff_list_published_skips_deleted_and_foreign_tariffs_and_filters_a_party() -> None:
    our_cpo("NL", "EXA")
    our_cpo("NL", "EXB")
    a = make_tariff("A")
    b = make_tariff("B", party_id="EXB")
    gone = make_tariff("GONE")
    tariff_delete(tariff=gone)
    make_tariff("THEIRS", country_code="BE", party_id="CPX")

    assert list(tariff_list_published()) == [a, b]
    assert list(tariff_list_published(party=PartyRef.of("nl", "exb"))) == [b]


def test_tariff_get_by_key_and_list_by_ids() -> None:
    a = make_tariff("Alpha")
    b = make_tariff("Beta")
    make_tariff("Gamma")
    tariff_delete(tariff=b)

    assert tariff_get_by_key(country_code="nl", party_id="exa", ocpi_id="ALPHA") == a
    assert tariff_get_by_key(country_code="NL", party_id="EXA", ocpi_id="beta") is None
    assert tariff_get_by_key(country_code="NL", party_id="EXA", ocpi_id="beta", include_deleted=True) == b
    assert tariff_get(pk=b.pk) == b  # the outbox reads tombstones too
    assert list(tariff_list_by_ids(country_code="NL", party_id="EXA", ocpi_ids=["alpha", "BETA", "nope"])) == [a]
    assert list(tariff_list_by_ids(country_code="NL", party_id="EXA", ocpi_ids=[])) == []
