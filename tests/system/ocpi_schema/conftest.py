"""A realistic roaming network: our CPO and eMSP (seed_demo) and one partner platform that is both eMSP and CPO
(DE/EMP), whose Receivers and Senders are a FakePartner on loopback HTTP recording every request we send.

`network` drives every kind of traffic we originate: location/EVSE/connector PUT and PATCH, tariff PUT and
DELETE, token PUT and PATCH, session PUT and PATCH (a simulated charge and remote-started sessions), CDR POST,
CommandResult POSTs (for the partner's commands to our CPO), charging-profile results, the five commands our
eMSP sends, and a real-time authorization request. Tasks run eagerly (test settings), on commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import RegisteredPartner, make_registered_partner
from tests.fake_partner import FakePartner

PARTNER_TOKEN = {
    "country_code": "DE",
    "party_id": "EMP",
    "uid": "DRIVER0001",
    "type": "RFID",
    "contract_id": "DE-EMP-C00000001-X",
    "issuer": "Partner eMSP",
    "valid": True,
    "whitelist": "ALWAYS",
    "last_updated": "2026-01-01T00:00:00Z",
}
PARTNER_MODULES = [
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tokens", "RECEIVER"),  # its CPO role caches our eMSP's tokens
    ("tokens", "SENDER"),  # its eMSP role answers real-time authorization
    ("commands", "RECEIVER"),  # its CPO role takes our eMSP's commands
]
ALL_CAPABILITIES = [
    "CHARGING_PROFILE_CAPABLE",
    "CHARGING_PREFERENCES_CAPABLE",
    "REMOTE_START_STOP_CAPABLE",
    "RESERVABLE",
    "RFID_READER",
    "UNLOCK_CAPABLE",
]


@dataclass
class Network:
    partner: RegisteredPartner
    fake: FakePartner
    served: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, response body) of calls made

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The partner calls one of our endpoints; the answer is kept to be validated as served."""
        client = self.partner.client()
        response = (
            getattr(client, method.lower())(path, body, format="json")
            if body is not None
            else (getattr(client, method.lower())(path))
        )
        assert response.status_code < 300, (method, path, response.status_code, response.content[:500])
        payload = response.json()
        self.served.append((method, path, payload))
        return payload


@pytest.fixture
def network(transactional_db: Any, settings: Any, fake_partner: FakePartner) -> Network:
    from locations.models import EVSE, Connector, Location
    from locations.services import (
        connector_put,
        connector_update,
        evse_put,
        evse_set_status,
        evse_update,
        location_update,
    )
    from sessions.commands.sender import command_send
    from sessions.demo import seed_demo
    from sessions.models import ChargingSession
    from tariffs.api.serializers import TariffSerializer
    from tariffs.models import Tariff
    from tariffs.services import demo_tariffs_ocpi, tariff_create, tariff_delete, tariff_update
    from tokens.authorization import token_authorize_at_charge_point
    from tokens.models import Token
    from tokens.services import token_block, token_issue

    settings.OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS = 0
    settings.OCPI_GATEWAY = "chargepoints.simulator.SimulatorGateway"
    settings.OCPI_SIMULATOR_DELAY_SECONDS = 0
    settings.OCPI_SIMULATOR_OUTCOME = "ACCEPTED"
    settings.OCPI_COMMAND_TIMEOUT_SECONDS = 5
    partner = make_registered_partner(
        "Roaming partner",
        [("EMSP", "DE", "EMP"), ("CPO", "DE", "EMP")],
        [(identifier, role, fake_partner.url(identifier, role)) for identifier, role in PARTNER_MODULES],
        outbound_token=fake_partner.token_a,
    )
    net = Network(partner=partner, fake=fake_partner)
    commands_url = fake_partner.url("commands", "RECEIVER").removeprefix(fake_partner.base)
    fake_partner.responses[commands_url] = (
        200,
        {"data": {"result": "ACCEPTED", "timeout": 30}, "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"},
    )

    # Our CPO's network, tariffs and our eMSP's tokens: PUT to the partner.
    seed_demo(locations=4)
    # Location, EVSE and connector changes: PATCHes.
    location_update(location=Location.objects.get(ocpi_id="LOC000001"), data={"name": "Amsterdam Centraal P+R"})
    evse_set_status(evse=EVSE.objects.get(uid="LOC000002-E2"), status="OUTOFORDER")
    evse_update(evse=EVSE.objects.get(uid="LOC000003-E1"), data={"capabilities": ALL_CAPABILITIES})
    evse_set_status(evse=EVSE.objects.get(uid="LOC000003-E1"), status="AVAILABLE")  # the demo has it OUTOFORDER
    evse_update(evse=EVSE.objects.get(uid="LOC000004-E1"), data={"capabilities": ALL_CAPABILITIES})
    connector_update(
        connector=Connector.objects.get(evse__uid="LOC000002-E1", ocpi_id="1"), data={"tariff_ids": ["DC-TOD"]}
    )
    # A new connector and a new EVSE: PUT at their own URLs.
    plug = {"standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230}
    plug.update(max_amperage=16, tariff_ids=["AC-STD"])
    connector_put(evse=EVSE.objects.get(uid="LOC000001-E1"), data={"ocpi_id": "2", **plug})
    evse_put(
        location=Location.objects.get(ocpi_id="LOC000004"),
        data={"uid": "LOC000004-E9", "evse_id": "NL*EXA*E0000049", "status": "PLANNED",
              "connectors": [{"ocpi_id": "1", **plug}]},
    )  # fmt: skip

    # Tariffs: a changed one (PUT), a new one deleted again (PUT, DELETE).
    def tariff_data(body: dict[str, Any]) -> Any:
        serializer = TariffSerializer(data={**body, "last_updated": "2000-01-01T00:00:00Z"})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    ac = next(t for t in demo_tariffs_ocpi(country_code="NL", party_id="EXA") if t["id"] == "AC-STD")
    ac["min_price"] = {"excl_vat": 0.5, "incl_vat": 0.61}
    tariff_update(tariff=Tariff.objects.get(ocpi_id="AC-STD"), data=tariff_data(ac))
    free = {key: value for key, value in ac.items() if key not in ("min_price", "tariff_alt_text")}
    free.update(id="FREE", elements=[{"price_components": [{"type": "FLAT", "price": 0, "step_size": 1}]}])
    tariff_delete(tariff=tariff_create(data=tariff_data(free)))
    # Our eMSP's tokens: a new one (PUT) and a blocked one (PATCH).
    token_issue(
        country_code="NL",
        party_id="EXA",
        uid="04C0FFEE000001",
        contract_id="NL-EXA-C00000099-1",
        issuer="Example eMSP",
        visual_number="EXA-0099",
    )
    token_block(token=Token.objects.get(ocpi_id="04A1B2C3D4E5F6"))

    # The partner's driver charges at our EVSE: session PUT, PATCHes, CDR POST.
    net.call("PUT", "/ocpi/cpo/2.2.1/tokens/DE/EMP/DRIVER0001?type=RFID", PARTNER_TOKEN)
    call_command(
        "simulate_charging",
        *("--evse", "LOC000002-E1", "--token", "DRIVER0001", "--country", "DE", "--party", "EMP"),
        *("--kwh", "12.5", "--minutes", "45", "--idle-minutes", "10"),
        stdout=StringIO(),
    )
    # Real-time authorization of a token our CPO does not cache (LocationReferences to the partner eMSP).
    token_authorize_at_charge_point(
        country_code="DE", party_id="EMP", uid="UNCACHED01", location_id="LOC000001", evse_uid="LOC000001-E1"
    )

    # The partner eMSP commands our CPO: CommandResponse served, CommandResult POSTed to its response_url.
    def result_url(name: str) -> str:
        return f"{fake_partner.base}/results/{name}"

    app_user = {**PARTNER_TOKEN, "uid": "APPUSER01", "type": "APP_USER", "whitelist": "NEVER"}
    net.call(
        "POST",
        "/ocpi/cpo/2.2.1/commands/START_SESSION",
        {
            "response_url": result_url("start"),
            "token": app_user,
            "location_id": "LOC000003",
            "evse_uid": "LOC000003-E1",
        },
    )
    started = ChargingSession.objects.get(evse_uid="LOC000003-E1", status="ACTIVE")
    net.call(
        "PUT",
        f"/ocpi/cpo/2.2.1/sessions/{started.ocpi_id}/charging_preferences",
        {"profile_type": "FAST", "energy_need": 20, "departure_time": "2030-01-01T18:00:00Z"},
    )
    profile = {"charging_rate_unit": "W", "charging_profile_period": [{"start_period": 0, "limit": 11000.0}]}
    net.call(
        "PUT",
        f"/ocpi/cpo/2.2.1/chargingprofiles/{started.ocpi_id}",
        {"charging_profile": profile, "response_url": result_url("set-profile")},
    )
    net.call(
        "GET",
        f"/ocpi/cpo/2.2.1/chargingprofiles/{started.ocpi_id}?duration=900&response_url={result_url('active-profile')}",
    )
    net.call("DELETE", f"/ocpi/cpo/2.2.1/chargingprofiles/{started.ocpi_id}?response_url={result_url('clear-profile')}")
    net.call(
        "POST",
        "/ocpi/cpo/2.2.1/commands/STOP_SESSION",
        {"response_url": result_url("stop"), "session_id": started.ocpi_id},
    )
    expiry = (timezone.now() + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    net.call(
        "POST",
        "/ocpi/cpo/2.2.1/commands/RESERVE_NOW",
        {
            "response_url": result_url("reserve"),
            "token": app_user,
            "expiry_date": expiry,
            "reservation_id": "RES-1",
            "location_id": "LOC000004",
            "evse_uid": "LOC000004-E1",
        },
    )
    net.call(
        "POST",
        "/ocpi/cpo/2.2.1/commands/CANCEL_RESERVATION",
        {"response_url": result_url("cancel"), "reservation_id": "RES-1"},
    )
    net.call(
        "POST",
        "/ocpi/cpo/2.2.1/commands/UNLOCK_CONNECTOR",
        {
            "response_url": result_url("unlock"),
            "location_id": "LOC000004",
            "evse_uid": "LOC000004-E1",
            "connector_id": "1",
        },
    )

    # Our eMSP commands the partner's CPO (the five command bodies).
    ours = Token.objects.get(ocpi_id="04A1B2C3D4E5F7")
    command_send(partner=partner.partner, command="START_SESSION", token=ours, location_id="P-LOC1",
                 evse_uid="P-EVSE1", connector_id="1", authorization_reference="REF-1")  # fmt: skip
    command_send(partner=partner.partner, command="STOP_SESSION", session_id="P-SESSION-1")
    command_send(partner=partner.partner, command="RESERVE_NOW", token=ours, location_id="P-LOC1",
                 reservation_id="P-RES-1", expiry_date=timezone.now() + timedelta(minutes=15))  # fmt: skip
    command_send(partner=partner.partner, command="CANCEL_RESERVATION", reservation_id="P-RES-1")
    command_send(partner=partner.partner, command="UNLOCK_CONNECTOR", location_id="P-LOC1", evse_uid="P-EVSE1",
                 connector_id="1")  # fmt: skip
    # The partner's CPO asks our eMSP for a real-time authorization: AuthorizationInfo served.
    net.call(
        "POST",
        "/ocpi/emsp/2.2.1/tokens/04A1B2C3D4E5F7/authorize?type=RFID",
        {"location_id": "LOC-P", "evse_uids": ["E1"]},
    )
    return net
