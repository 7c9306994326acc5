"""The Credentials we send when we register with a partner (POST) and when we update (PUT) validate
(credentials.md 2). What we serve (versions, details, credentials GET) is checked in test_served.py."""

from __future__ import annotations

from typing import Any

import pytest

from partners.services import partner_register, partner_update_credentials

from .credentials import Credentials
from .envelope import problems

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def test_credentials_we_post_and_put_validate(live_server: Any, settings: Any, fake_partner: Any) -> None:
    settings.OCPI_BASE_URL = live_server.url
    partner = partner_register(versions_url_=fake_partner.versions_url, token_a=fake_partner.token_a, name="Fake")
    partner_update_credentials(partner=partner)

    sent = [r for r in fake_partner.requests if r.path == "/ocpi/2.2.1/credentials"]
    assert [r.method for r in sent] == ["POST", "PUT"]
    found = [line for r in sent for line in problems(Credentials, r.body, f"{r.method} credentials")]
    assert found == [], "\n".join(found)
