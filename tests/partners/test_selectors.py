"""partners.selectors: the credentials lookup and the role facts it brings along."""

from __future__ import annotations

from typing import Any

import pytest

from partners.models import Partner
from partners.selectors import partner_serves_cpo, partner_token_resolve
from tests.conftest import make_registered_partner

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("roles", "is_hub", "has_cpo_role", "serves_cpo"),
    [
        ([("CPO", "BE", "CPX")], False, True, True),
        ([("EMSP", "DE", "EMP")], False, False, False),
        ([("EMSP", "DE", "EMP"), ("CPO", "DE", "CPB")], False, True, True),
        ([("HUB", "NL", "HUB")], True, False, True),
        ([("NSP", "FR", "NSP"), ("OTHER", "FR", "OTH")], False, False, False),
    ],
)
def test_token_resolve_brings_the_role_facts_and_serves_cpo_needs_no_query(
    roles: list[tuple[str, str, str]],
    is_hub: bool,
    has_cpo_role: bool,
    serves_cpo: bool,
    django_assert_num_queries: Any,
) -> None:
    registered = make_registered_partner("Partner", roles)

    with django_assert_num_queries(1):
        partner, _kind, _token = partner_token_resolve([registered.token])
        assert partner_serves_cpo(partner=partner) is serves_cpo

    assert (partner.ocpi_is_hub, partner.ocpi_has_cpo_role) == (is_hub, has_cpo_role)
    # A partner loaded any other way: the same answer, from one query.
    loaded = Partner.objects.get(pk=partner.pk)
    with django_assert_num_queries(1):
        assert partner_serves_cpo(partner=loaded) is serves_cpo
