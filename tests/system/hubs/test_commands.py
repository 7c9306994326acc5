"""Commands through a Hub: addressed (OCPI-to-*) to the CPO behind the Hub whose location it is."""

from __future__ import annotations

from typing import Any

import pytest

from partners.models import PartnerEndpoint
from sessions.commands.sender import command_send
from tests.fake_hub import CPO_2, via_hub
from tests.partners.hubs.test_inbound_routing import location_body
from tests.tokens.factories import TokenFactory

pytestmark = pytest.mark.django_db


def test_start_session_through_the_hub_is_addressed_to_the_location_owner(hub: Any, fake_hub: Any) -> None:
    PartnerEndpoint.objects.create(
        partner=hub.partner, identifier="commands", role="RECEIVER", url=fake_hub.url("commands")
    )
    put = via_hub(hub, CPO_2).put("/ocpi/emsp/2.2.1/locations/BE/CP2/LOC7", location_body(CPO_2, "LOC7"), format="json")
    assert put.json()["status_code"] == 1000
    token = TokenFactory(country_code="NL", party_id="EXA")

    command = command_send(partner=hub.partner, command="START_SESSION", location_id="LOC7", token=token)

    request = fake_hub.requests[-1]
    assert (request.method, request.path) == ("POST", "/ocpi/hub/2.2.1/commands/START_SESSION")
    assert (request.headers["ocpi-to-country-code"], request.headers["ocpi-to-party-id"]) == CPO_2
    assert (request.headers["ocpi-from-country-code"], request.headers["ocpi-from-party-id"]) == ("NL", "EXA")
    assert (command.country_code, command.party_id) == CPO_2
