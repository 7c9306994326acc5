"""Stale "connected" flags (issue 16): a starting server process releases what it (or a crashed process with
the same server id) held; a connected charge point is online while it keeps talking."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
from ocpp.v16 import call as call16

from chargepoints.models import ChargePoint
from chargepoints.ocpp_gateway.rpc import CONNECTED, RpcOcppServer
from chargepoints.ocpp_gateway.server import OcppServer
from tests.chargepoints.ocpp.harness import Connected, ServerThread

REDIS_URL = os.environ.get("REDIS_URL", "")
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def test_a_starting_server_releases_what_its_crashed_predecessor_held(charge_point: ChargePoint) -> None:
    ChargePoint.objects.filter(pk=charge_point.pk).update(connected=True, server_id="srv-a")
    other = ChargePoint.objects.create(identity="CP-OTHER", connected=True, server_id="srv-b")
    srv = ServerThread(OcppServer(server_id="srv-a"))  # srv-a again, after a crash: nothing is connected to it
    try:
        charge_point.refresh_from_db()
        assert (charge_point.connected, charge_point.server_id) == (False, "")
        other.refresh_from_db()
        assert (other.connected, other.server_id) == (True, "srv-b")  # another live process's: untouched

        cp = Connected(srv, "CP-1", "ocpp1.6")  # and it connects again
        cp.call(call16.Heartbeat())
        charge_point.refresh_from_db()
        assert (charge_point.connected, charge_point.server_id) == (True, "srv-a")
        assert charge_point.is_online and charge_point.last_seen_at is not None
        cp.close()
    finally:
        srv.stop()


@pytest.mark.skipif(not REDIS_URL, reason="needs Redis: set REDIS_URL")
def test_a_starting_rpc_server_unregisters_its_predecessors_charge_points(
    charge_point: ChargePoint, settings: Any
) -> None:
    settings.OCPP_REDIS_URL = REDIS_URL
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.delete(CONNECTED)
    client.hset(CONNECTED, mapping={"CP-1": "srv-a", "CP-OTHER": "srv-b"})
    srv = ServerThread(RpcOcppServer(redis_url=REDIS_URL, server_id="srv-a"))
    try:
        assert client.hgetall(CONNECTED) == {"CP-OTHER": "srv-b"}
    finally:
        srv.stop()
        client.delete(CONNECTED)


def test_the_command_has_a_stable_default_server_id() -> None:
    from chargepoints.management.commands.ocpp_server import Command

    parser = Command().create_parser("manage.py", "ocpp_server")
    options = parser.parse_args(["--port", "9100", "--server-id", "ocpp-1"])
    assert options.server_id == "ocpp-1"
    assert parser.parse_args([]).port == 9000
