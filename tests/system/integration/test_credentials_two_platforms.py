"""Two installations of this platform register with each other over real HTTP, both ways.

Ours runs in pytest-django's live server; the other is a separate process with its own database and
parties (DE/BBB, DE/BBC). Each side plays the initiator once.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from partners.models import Partner, PartnerState
from partners.services import partner_invite, partner_register, partner_unregister, partner_update_credentials
from tests.system.integration.remote import RemotePlatform

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]


@pytest.fixture
def remote() -> Any:
    platform = RemotePlatform().start()
    yield platform
    platform.stop()


@pytest.fixture
def ours(live_server: Any, settings: Any) -> str:
    settings.OCPI_BASE_URL = live_server.url
    return live_server.url


def remote_partner_state(remote: RemotePlatform, name: str) -> dict[str, Any]:
    out = remote.shell(
        f"import json; from partners.models import Partner; p = Partner.objects.get(name={name!r}); "
        "print(json.dumps({'state': p.state, 'version': p.version, "
        "'roles': sorted(f'{r.role} {r.country_code}/{r.party_id}' for r in p.roles.all()), "
        "'endpoints': sorted(f'{e.identifier} {e.role}' for e in p.endpoints.all())}))"
    )
    return json.loads(out.strip().splitlines()[-1])


def test_we_register_with_the_other_installation(ours: str, remote: RemotePlatform) -> None:
    invitation = json.loads(remote.manage("ocpi_invite", "Us", "--json").strip().splitlines()[-1])
    partner = partner_register(versions_url_=invitation["versions_url"], token_a=invitation["token"], name="Remote")

    assert partner.state == PartnerState.REGISTERED
    assert sorted(f"{r.role} {r.country_code}/{r.party_id}" for r in partner.roles.all()) == [
        "CPO DE/BBB",
        "EMSP DE/BBC",
    ]
    assert ("credentials", "SENDER") in set(partner.endpoints.values_list("identifier", "role"))
    theirs = remote_partner_state(remote, "Us")
    assert theirs["state"] == "REGISTERED"
    assert theirs["roles"] == ["CPO NL/EXA", "EMSP NL/EXA"]
    assert "credentials SENDER" in theirs["endpoints"]

    partner_update_credentials(partner=partner)
    assert remote_partner_state(remote, "Us")["state"] == "REGISTERED"
    partner_unregister(partner=partner)
    assert remote_partner_state(remote, "Us")["state"] == "UNREGISTERED"


def test_the_other_installation_registers_with_us(ours: str, remote: RemotePlatform) -> None:
    _, token_a = partner_invite(name="Remote")
    out = remote.manage("ocpi_register", "--name", "Us", f"{ours}/ocpi/versions", "--", token_a)
    assert "Registered with Us: OCPI 2.3.0" in out  # the highest version both installations speak

    partner = Partner.objects.get(name="Remote")
    assert partner.state == PartnerState.REGISTERED
    assert sorted(f"{r.role} {r.country_code}/{r.party_id}" for r in partner.roles.all()) == [
        "CPO DE/BBB",
        "EMSP DE/BBC",
    ]
    assert remote_partner_state(remote, "Us")["state"] == "REGISTERED"
