"""Shared fixtures: registered partners with their tokens, and an authenticated OCPI API client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from ocpi_platform.ocpi.tokens import token_encode_header, token_generate, token_hash
from partners.models import Partner, PartnerEndpoint, PartnerRole, PartnerState, PartnerToken, TokenKind


@dataclass
class RegisteredPartner:
    partner: Partner
    token: str  # the token the partner presents to us (our token C for it)

    @property
    def auth(self) -> str:
        return token_encode_header(self.token)

    def client(self, **routing: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=self.auth, **routing)
        return client


def make_registered_partner(
    name: str,
    roles: list[tuple[str, str, str]],
    endpoints: list[tuple[str, str, str]] | None = None,
    outbound_token: str = "token-we-present",
) -> RegisteredPartner:
    """A partner that completed the handshake: roles (role, cc, pid) and endpoints (id, role, url)."""
    partner = Partner.objects.create(
        name=name, state=PartnerState.REGISTERED, outbound_token=outbound_token, version="2.2.1"
    )
    for role, cc, pid in roles:
        PartnerRole.objects.create(
            partner=partner, role=role, country_code=cc, party_id=pid, business_details={"name": name}
        )
    for identifier, role, url in endpoints or []:
        PartnerEndpoint.objects.create(partner=partner, identifier=identifier, role=role, url=url)
    token = token_generate()
    PartnerToken.objects.create(partner=partner, kind=TokenKind.CURRENT, token_hash=token_hash(token))
    return RegisteredPartner(partner=partner, token=token)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty default cache (cached X-Total-Count, rate-limit buckets)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def emsp_partner(db: Any) -> RegisteredPartner:
    """A partner eMSP platform (DE/EMP) registered with us."""
    return make_registered_partner("Partner eMSP", [("EMSP", "DE", "EMP")])


@pytest.fixture
def cpo_partner(db: Any) -> RegisteredPartner:
    """A partner CPO platform (BE/CPX) registered with us."""
    return make_registered_partner("Partner CPO", [("CPO", "BE", "CPX")])


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def fake_partner() -> Any:
    from tests.fake_partner import FakePartner

    fake = FakePartner()
    yield fake
    fake.stop()
