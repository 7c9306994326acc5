"""Security profile 2 (issue 16): `ocpp_server --certfile/--keyfile` serves wss:// (TLS) with HTTP Basic auth.
The certificate is self-signed, made for the test by the openssl command line tool."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest
import websockets
from django.core.management import CommandError, call_command
from ocpp.v16 import call as call16

from chargepoints.models import ChargePoint
from chargepoints.ocpp_gateway.server import OcppServer, tls_context
from tests.chargepoints.ocpp.harness import Connected, ServerThread, basic

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: Any) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "csms.pem", folder / "csms.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_wss_with_basic_auth(certificate: tuple[Path, Path], charge_point: ChargePoint) -> None:
    cert, key = certificate
    srv = ServerThread(OcppServer(server_id="tls"), ssl=tls_context(str(cert), str(key)))
    trust = ssl.create_default_context(cafile=str(cert))  # the charger trusts our certificate
    try:
        assert srv.url("CP-1").startswith("wss://")
        cp = Connected(srv, "CP-1", "ocpp1.6", ssl=trust)
        boot = cp.call(call16.BootNotification(charge_point_vendor="V", charge_point_model="M"))
        assert boot.status == "Accepted"
        cp.close()
        assert ChargePoint.objects.get().vendor == "V"

        async def attempt(url: str, context: Any, password: str) -> str:
            try:
                ws = await websockets.connect(
                    url, subprotocols=["ocpp1.6"], additional_headers=basic("CP-1", password), ssl=context
                )
            except Exception as exc:  # noqa: BLE001  # what failed is the answer
                return type(exc).__name__
            await ws.close()
            return "connected"

        # a wrong password is still refused (401) over TLS
        assert srv.run(attempt(srv.url("CP-1"), trust, "wrong-password")) == "InvalidStatus"
        # a charger that does not trust the certificate gets no connection
        assert (
            srv.run(attempt(srv.url("CP-1"), ssl.create_default_context(), "cp-secret-123"))
            == "SSLCertVerificationError"
        )
    finally:
        srv.stop()


def test_plain_ws_to_the_tls_port_gets_no_websocket(certificate: tuple[Path, Path], charge_point: ChargePoint) -> None:
    cert, key = certificate
    srv = ServerThread(OcppServer(server_id="tls"), ssl=tls_context(str(cert), str(key)))

    async def plain() -> str:
        try:
            ws = await websockets.connect(
                srv.url("CP-1").replace("wss://", "ws://"),
                subprotocols=["ocpp1.6"],
                additional_headers=basic("CP-1", "cp-secret-123"),
                open_timeout=5,
            )
        except Exception as exc:  # noqa: BLE001
            return type(exc).__name__
        await ws.close()
        return "connected"

    try:
        assert srv.run(plain()) != "connected"
    finally:
        srv.stop()


def test_keyfile_without_certfile_is_refused() -> None:
    with pytest.raises(CommandError):
        call_command("ocpp_server", "--keyfile", "x.key")
