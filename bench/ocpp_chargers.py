"""Benchmark of the OCPP gateway (issue 16): N simulated charge points against the real `manage.py ocpp_server`.

    REDIS_URL=redis://127.0.0.1:6379/6 DATABASE_URL=postgres://postgres@127.0.0.1:5432/ocpi_bench_ocpp \\
        .venv/bin/python bench/ocpp_chargers.py [--chargers 100,500] [--duration 60] [--interval 10]
                                                [--protocol 1.6|2.0.1] [--connect-rate 2] [--call-timeout 30]

Production-like: the server is its own process (`manage.py ocpp_server`, ocpi_platform.settings.base, PostgreSQL
from DATABASE_URL, Redis from REDIS_URL: the RPC queue and the outbox tasks). The script creates the database if
missing and migrates it, then seeds (once; later runs reuse it) N charge points BENCH-CP-00000..., each with one
EVSE and connector (10 EVSEs a location, tariff BENCH-T) mapped as OCPP connector 1 / EVSE 1 connector 1, an HTTP
Basic password (one random password for every bench charge point, hashed once with the production hasher: the
server checks it with the same cost as distinct ones), one RFID token per charger pushed by a registered partner
eMSP DE/BEM (whitelist ALWAYS) whose sessions/cdrs/locations Receivers exist but are never called (no Celery
worker runs: the outbox rows and queued tasks are written as in production, nothing is delivered).

For each N in --chargers a fresh server process is started and N `ocpp` library ChargePoint clients (OCPP 1.6J, or
2.0.1 with --protocol 2.0.1) run in this one asyncio process:

1. connect phase: charger i opens its WebSocket (HTTP Basic auth) at i / --connect-rate seconds (staggered: a
   steady trickle instead of N handshakes in the same millisecond), then BootNotification and
   StatusNotification(Available);
2. load phase, once every charger is connected: charger i starts at (i / N) x --interval (spread over one interval),
   sends Authorize, StartTransaction (2.0.1: TransactionEvent Started) and StatusNotification(Charging), MeterValues
   (2.0.1: TransactionEvent Updated) every --interval seconds for --duration seconds, then StopTransaction
   (TransactionEvent Ended) and StatusNotification(Available).

Every CALL's round trip (sent -> CALLRESULT received, client schema validation skipped so the load generator stays
lean) is recorded. Per phase it prints messages, messages/s, p50/p95/p99/max latency (all and per action), errors
(CallError, refused, closed), timeouts (no answer within --call-timeout), the server process's CPU seconds (from
/proc/<pid>/stat) per message, the bench process's own CPU; then it checks in the database that every transaction
became a COMPLETED session with the energy the charger metered and a CDR with that energy. Exit status 1 when a
check fails or a call failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ocpi_bench_ocpp"
IDENTITY_FORMAT = "BENCH-CP-{:05d}"
TOKEN_FORMAT = "BENCHTK{:05d}"
EVSES_PER_LOCATION = 10
TARIFF_ID = "BENCH-T"
PARTNER_NAME = "Bench eMSP (OCPP)"
PARTNER_CC, PARTNER_PID = "DE", "BEM"
PASSWORD_FILE = "bench_ocpp_chargers_password"  # in the temp dir: the plain password of the seeded hash
POWER_W = 11_000  # each charger meters 11 kW
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "ocpi_platform.settings.base",
    "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_HSTS_SECONDS": "0",
    "OCPI_BASE_URL": "http://127.0.0.1",
}


# --- database and seed ----------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}", flush=True)


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def bench_password() -> str:
    path = Path(tempfile.gettempdir()) / PASSWORD_FILE
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
    return path.read_text().strip()


def seed(n: int) -> str:
    """Charge points 0..n-1 (created when missing) with their EVSE/connector mapping, tokens and the partner eMSP.
    Returns the HTTP Basic password of every bench charge point."""
    import datetime as dt

    from django.contrib.auth.hashers import make_password
    from django.db import transaction

    from chargepoints.models import ChargePoint, ChargePointConnector
    from locations.constants import ConnectorFormat, ConnectorType, EVSEStatus, PowerType
    from locations.models import EVSE, Connector, Location
    from partners.models import Partner, PartnerEndpoint, PartnerRole, PartnerState, Party, Role
    from tariffs.api.serializers import TariffSerializer
    from tariffs.models import Tariff
    from tariffs.services import tariff_create
    from tokens.models import Token, TokenType, WhitelistType

    password = bench_password()
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    for role in (Role.CPO, Role.EMSP):
        Party.objects.update_or_create(
            role=role, country_code="NL", party_id="EXA", defaults={"name": f"Our {role}", "active": True}
        )
    if not Tariff.objects.filter(country_code="NL", party_id="EXA", ocpi_id=TARIFF_ID).exists():
        body = {
            "country_code": "NL",
            "party_id": "EXA",
            "id": TARIFF_ID,
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [
                        {"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1},
                        {"type": "TIME", "price": 1.20, "vat": 21.0, "step_size": 60},
                    ]
                }
            ],
            "last_updated": "2024-01-01T00:00:00Z",
        }
        serializer = TariffSerializer(data=body)
        serializer.is_valid(raise_exception=True)
        tariff_create(data=serializer.validated_data)

    partner, _ = Partner.objects.get_or_create(
        name=PARTNER_NAME,
        defaults={"state": PartnerState.REGISTERED, "version": "2.2.1", "outbound_token": "bench-unused"},
    )
    PartnerRole.objects.get_or_create(partner=partner, role=Role.EMSP, country_code=PARTNER_CC, party_id=PARTNER_PID)
    for module in ("locations", "sessions", "cdrs"):  # never called: no worker runs during the bench
        PartnerEndpoint.objects.get_or_create(
            partner=partner, identifier=module, role="RECEIVER", defaults={"url": f"http://127.0.0.1:9/{module}"}
        )

    existing = set(ChargePoint.objects.filter(identity__startswith="BENCH-CP-").values_list("identity", flat=True))
    missing = [i for i in range(n) if IDENTITY_FORMAT.format(i) not in existing]
    if not missing:
        return password
    print(f"seeding {len(missing)} charge points", flush=True)
    password_hash = make_password(password)  # the production hasher (PBKDF2), once
    with transaction.atomic():
        locations = {}
        for index in sorted({i // EVSES_PER_LOCATION for i in missing}):
            locations[index], _ = Location.objects.get_or_create(
                country_code="NL",
                party_id="EXA",
                ocpi_id=f"BENCH-LOC-{index:04d}",
                defaults={
                    "publish": True,
                    "name": f"Bench station {index}",
                    "address": f"Bench street {index}",
                    "city": "Amsterdam",
                    "postal_code": "1011AB",
                    "country": "NLD",
                    "latitude": "52.370216",
                    "longitude": "4.895168",
                    "parking_type": "ON_STREET",
                    "time_zone": "Europe/Amsterdam",
                    "opening_times": {"twentyfourseven": True},
                    "last_updated": t0,
                },
            )
        evses = EVSE.objects.bulk_create(
            [
                EVSE(
                    location=locations[i // EVSES_PER_LOCATION],
                    country_code="NL",
                    party_id="EXA",
                    uid=f"BENCH-EVSE-{i:05d}",
                    evse_id=f"NL*EXA*EBENCH{i:05d}",
                    status=EVSEStatus.AVAILABLE,
                    capabilities=["RFID_READER", "REMOTE_START_STOP_CAPABLE"],
                    last_updated=t0,
                )
                for i in missing
            ]
        )
        connectors = Connector.objects.bulk_create(
            [
                Connector(
                    evse=evse,
                    ocpi_id="1",
                    standard=ConnectorType.IEC_62196_T2,
                    format=ConnectorFormat.SOCKET,
                    power_type=PowerType.AC_3_PHASE,
                    max_voltage=230,
                    max_amperage=32,
                    tariff_ids=[TARIFF_ID],
                    last_updated=t0,
                )
                for evse in evses
            ]
        )
        charge_points = ChargePoint.objects.bulk_create(
            [ChargePoint(identity=IDENTITY_FORMAT.format(i), password_hash=password_hash) for i in missing]
        )
        ChargePointConnector.objects.bulk_create(
            [
                ChargePointConnector(
                    charge_point=cp, ocpp_evse_id=1, ocpp_connector_id=1, evse=connector.evse, connector=connector
                )
                for cp, connector in zip(charge_points, connectors, strict=True)
            ]
        )
        Token.objects.bulk_create(
            [
                Token(
                    country_code=PARTNER_CC,
                    party_id=PARTNER_PID,
                    ocpi_id=TOKEN_FORMAT.format(i),
                    type=TokenType.RFID,
                    contract_id=f"DE-BEM-C{i:08d}",
                    issuer="Bench eMSP",
                    valid=True,
                    whitelist=WhitelistType.ALWAYS,
                    last_updated=t0,
                    received_from=partner,
                )
                for i in missing
            ],
            ignore_conflicts=True,
        )
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("chargepoints_chargepoint", "chargepoints_chargepointconnector", "tokens_token"):
            cursor.execute(f"ANALYZE {table}")
    return password


def set_password_hash(password: str, iterations: int) -> str:
    """Every bench charge point's password_hash: as ChargePoint.set_password hashes it (production), or PBKDF2
    with `iterations`."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher, identify_hasher

    from chargepoints.models import ChargePoint

    if iterations:
        hasher = PBKDF2PasswordHasher()
        encoded = hasher.encode(password, hasher.salt(), iterations)
        label = f"PBKDF2-SHA256 x {iterations} (measurement aid, not production)"
    else:
        probe = ChargePoint()
        probe.set_password(password)
        encoded = probe.password_hash
        label = f"{identify_hasher(encoded).algorithm} (ChargePoint.set_password, production)"
    ChargePoint.objects.filter(identity__startswith="BENCH-CP-").update(password_hash=encoded)
    return label


# --- the simulated chargers -----------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    timeouts: int = 0
    handshakes: list[float] = field(default_factory=list)

    @property
    def messages(self) -> int:
        return sum(len(values) for values in self.latencies.values())


@dataclass
class Charger:
    index: int
    identity: str
    token: str
    client: Any = None
    ws: Any = None
    reader: Any = None
    meter_start: int = 0
    meter_wh: int = 0
    transaction_id: str | None = None
    stopped: bool = False
    failed: str = ""


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Bench:
    def __init__(self, args: argparse.Namespace, ports: list[int], password: str, n: int) -> None:
        self.args = args
        self.ports = ports  # charger i connects to server i mod len(ports)
        self.password = password
        self.n = n
        self.v201 = args.protocol == "2.0.1"
        self.connect_stats = Stats()
        self.load_stats = Stats()
        self.chargers = [Charger(i, IDENTITY_FORMAT.format(i), TOKEN_FORMAT.format(i)) for i in range(n)]
        self.connected = 0
        self.in_transaction = 0
        self.done = 0

    # one CALL, timed
    async def call(self, charger: Charger, payload: Any, stats: Stats) -> Any:
        from ocpp.exceptions import OCPPError
        from websockets.exceptions import ConnectionClosed

        action = type(payload).__name__
        started = time.perf_counter()
        try:
            result = await charger.client.call(payload, suppress=False, skip_schema_validation=True)
        except TimeoutError:
            stats.timeouts += 1
            return None
        except (OCPPError, ConnectionClosed) as exc:
            stats.errors[f"{action}: {type(exc).__name__}"] += 1
            return None
        stats.latencies[action].append(time.perf_counter() - started)
        return result

    def refused(self, stats: Stats, action: str, status: Any) -> None:
        stats.errors[f"{action}: {status}"] += 1

    async def connect(self, charger: Charger) -> None:
        import websockets

        if self.v201:
            from ocpp.v201 import ChargePoint as Client
            from ocpp.v201 import call
        else:
            from ocpp.v16 import ChargePoint as Client
            from ocpp.v16 import call

        stats = self.connect_stats
        auth = base64.b64encode(f"{charger.identity}:{self.password}".encode()).decode()
        started = time.perf_counter()
        try:
            charger.ws = await websockets.connect(
                f"ws://127.0.0.1:{self.ports[charger.index % len(self.ports)]}/ocpp/{charger.identity}",
                subprotocols=["ocpp2.0.1" if self.v201 else "ocpp1.6"],
                additional_headers={"Authorization": f"Basic {auth}"},
                open_timeout=self.args.connect_timeout,
                ping_interval=None,  # OCPP Heartbeat is the keep-alive; 500 pings would be load of their own
                max_queue=None,
            )
        except TimeoutError:
            stats.timeouts += 1
            charger.failed = "connect timeout"
            return
        except (OSError, websockets.InvalidHandshake) as exc:
            stats.errors[f"connect: {type(exc).__name__}"] += 1
            charger.failed = f"connect {exc}"
            return
        stats.handshakes.append(time.perf_counter() - started)
        charger.client = Client(charger.identity, charger.ws, response_timeout=self.args.call_timeout)
        charger.client.logger.setLevel("ERROR")
        charger.reader = asyncio.create_task(charger.client.start())
        if self.v201:
            boot = await self.call(
                charger,
                call.BootNotification(
                    charging_station={"model": "Bench", "vendor_name": "BenchCo", "firmware_version": "1.0"},
                    reason="PowerUp",
                ),
                stats,
            )
            status = call.StatusNotification(
                timestamp=iso_now(), connector_status="Available", evse_id=1, connector_id=1
            )
        else:
            boot = await self.call(
                charger,
                call.BootNotification(
                    charge_point_model="Bench", charge_point_vendor="BenchCo", firmware_version="1.0"
                ),
                stats,
            )
            status = call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        if boot is not None and boot.status != "Accepted":
            self.refused(stats, "BootNotification", boot.status)
        await self.call(charger, status, stats)
        self.connected += 1

    async def transaction(self, charger: Charger, offset: float) -> None:
        if charger.client is None:
            return
        await asyncio.sleep(offset)
        stats = self.load_stats
        interval, duration = self.args.interval, self.args.duration
        wh_per_interval = round(POWER_W * interval / 3600)
        charger.meter_start = charger.meter_wh = 100_000 + charger.index * 7
        if self.v201:
            from ocpp.v201 import call

            id_token = {"id_token": charger.token, "type": "ISO14443"}
            auth = await self.call(charger, call.Authorize(id_token=id_token), stats)
            if auth is not None and auth.id_token_info["status"] != "Accepted":
                self.refused(stats, "Authorize", auth.id_token_info["status"])
            tx_id = f"{charger.identity}-{uuid.uuid4().hex[:12]}"
            seq = 0

            def event(kind: str, trigger: str, info: dict[str, Any] | None = None, **extra: Any) -> Any:
                nonlocal seq
                seq += 1
                now = iso_now()
                energy = {"value": charger.meter_wh, "measurand": "Energy.Active.Import.Register"}
                return call.TransactionEvent(
                    event_type=kind,
                    timestamp=now,
                    trigger_reason=trigger,
                    seq_no=seq - 1,
                    transaction_info={"transaction_id": tx_id, **(info or {})},
                    meter_value=[{"timestamp": now, "sampled_value": [energy]}],
                    **extra,
                )

            started = await self.call(
                charger, event("Started", "Authorized", id_token=id_token, evse={"id": 1, "connector_id": 1}), stats
            )
            if started is None:  # the server may still create the transaction: the check reports it
                charger.failed = "its StartTransaction got no answer, so it never stopped"
                return
            if (started.id_token_info or {}).get("status") != "Accepted":
                self.refused(stats, "TransactionEvent", (started.id_token_info or {}).get("status"))
            charger.transaction_id = tx_id
            status = call.StatusNotification(
                timestamp=iso_now(), connector_status="Occupied", evse_id=1, connector_id=1
            )
        else:
            from ocpp.v16 import call

            auth = await self.call(charger, call.Authorize(id_tag=charger.token), stats)
            if auth is not None and auth.id_tag_info["status"] != "Accepted":
                self.refused(stats, "Authorize", auth.id_tag_info["status"])
            started = await self.call(
                charger,
                call.StartTransaction(
                    connector_id=1, id_tag=charger.token, meter_start=charger.meter_start, timestamp=iso_now()
                ),
                stats,
            )
            if started is None:  # the server may still create the transaction: the check reports it
                charger.failed = "its StartTransaction got no answer, so it never stopped"
                return
            if started.id_tag_info["status"] != "Accepted":
                self.refused(stats, "StartTransaction", started.id_tag_info["status"])
            charger.transaction_id = str(started.transaction_id)
            status = call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
        self.in_transaction += 1
        await self.call(charger, status, stats)

        loop = asyncio.get_running_loop()
        began = loop.time()
        ticks = max(1, math.floor(duration / interval))
        for tick in range(1, ticks + 1):
            await asyncio.sleep(max(0.0, began + tick * interval - loop.time()))
            charger.meter_wh += wh_per_interval
            if self.v201:
                await self.call(charger, event("Updated", "MeterValuePeriodic"), stats)
            else:
                reading = {
                    "timestamp": iso_now(),
                    "sampled_value": [
                        {"value": str(charger.meter_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                    ],
                }
                await self.call(
                    charger,
                    call.MeterValues(connector_id=1, transaction_id=int(charger.transaction_id), meter_value=[reading]),
                    stats,
                )
        await asyncio.sleep(max(0.0, began + duration - loop.time()))
        charger.meter_wh += round(POWER_W * (duration - ticks * interval) / 3600)
        if self.v201:
            stopped = await self.call(charger, event("Ended", "StopAuthorized", {"stopped_reason": "Local"}), stats)
            status = call.StatusNotification(
                timestamp=iso_now(), connector_status="Available", evse_id=1, connector_id=1
            )
        else:
            stopped = await self.call(
                charger,
                call.StopTransaction(
                    meter_stop=charger.meter_wh,
                    timestamp=iso_now(),
                    transaction_id=int(charger.transaction_id),
                    id_tag=charger.token,
                ),
                stats,
            )
            status = call.StatusNotification(connector_id=1, error_code="NoError", status="Available")
        charger.stopped = stopped is not None
        self.in_transaction -= 1
        await self.call(charger, status, stats)
        self.done += 1

    async def progress(self, label: str, stats: Stats, total: int, count: Any) -> None:
        began = time.perf_counter()
        seen = 0
        while True:
            await asyncio.sleep(self.args.progress)
            messages = stats.messages
            recent = sorted(v for values in stats.latencies.values() for v in values[-2000:])
            p95 = percentile(recent, 95) * 1000 if recent else 0.0
            print(
                f"  [{label} {time.perf_counter() - began:5.0f} s] {count()}/{total}, messages {messages} "
                f"(+{messages - seen}), in transaction {self.in_transaction}, errors {sum(stats.errors.values())}, "
                f"timeouts {stats.timeouts}, recent p95 {p95:.0f} ms",
                flush=True,
            )
            seen = messages

    async def run(self, server_pids: list[int]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        cpu0, own0, t0 = processes_cpu(server_pids), time.process_time(), time.perf_counter()
        ticker = asyncio.create_task(
            self.progress("connect", self.connect_stats, self.n, lambda: f"connected {self.connected}")
        )
        rate = self.args.connect_rate

        async def staggered(charger: Charger) -> None:
            await asyncio.sleep(charger.index / rate)
            await self.connect(charger)

        await asyncio.gather(*(staggered(c) for c in self.chargers))
        ticker.cancel()
        cpu1, own1, t1 = processes_cpu(server_pids), time.process_time(), time.perf_counter()
        result["connect"] = (cpu1 - cpu0, own1 - own0, t1 - t0)

        ticker = asyncio.create_task(self.progress("load", self.load_stats, self.n, lambda: f"finished {self.done}"))
        spread = self.args.interval / self.n
        await asyncio.gather(*(self.transaction(c, c.index * spread) for c in self.chargers))
        ticker.cancel()
        cpu2, own2, t2 = processes_cpu(server_pids), time.process_time(), time.perf_counter()
        result["load"] = (cpu2 - cpu1, own2 - own1, t2 - t1)
        for charger in self.chargers:
            if charger.reader is not None:
                charger.reader.cancel()
            if charger.ws is not None:
                await charger.ws.close()
        return result


# --- measuring ------------------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User+system CPU seconds of a process, all its threads (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def processes_cpu(pids: list[int]) -> float:
    return sum(process_cpu(pid) for pid in pids)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    index = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, server: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"ocpp_server exited with {server.returncode} (see its log)")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"ocpp_server did not listen on port {port}")


def report(label: str, n: int, stats: Stats, cpu: tuple[float, float, float]) -> bool:
    server_cpu, own_cpu, elapsed = cpu
    all_ms = sorted(v * 1000 for values in stats.latencies.values() for v in values)
    count = len(all_ms)
    errors = sum(stats.errors.values())
    print(f"{label}: N={n}, {elapsed:.1f} s")
    if count:
        print(
            f"  messages {count}, {count / elapsed:.1f} messages/s, latency p50 {percentile(all_ms, 50):.1f} ms, "
            f"p95 {percentile(all_ms, 95):.1f} ms, p99 {percentile(all_ms, 99):.1f} ms, max {all_ms[-1]:.1f} ms"
        )
    print(
        f"  errors {errors}, timeouts {stats.timeouts}; server CPU {server_cpu:.1f} s"
        + (f" = {server_cpu / count * 1000:.1f} ms per message" if count else "")
        + f"; bench client CPU {own_cpu:.1f} s"
    )
    if stats.handshakes:
        hs = sorted(v * 1000 for v in stats.handshakes)
        print(
            f"  WebSocket handshakes (HTTP Basic check) {len(hs)}: p50 {percentile(hs, 50):.0f} ms, "
            f"p95 {percentile(hs, 95):.0f} ms, max {hs[-1]:.0f} ms; server CPU per connected charger "
            f"(handshake, boot, status) {server_cpu / len(hs) * 1000:.0f} ms"
        )
    for action in sorted(stats.latencies):
        ms = sorted(v * 1000 for v in stats.latencies[action])
        print(
            f"    {action:<20} {len(ms):6d}  p50 {percentile(ms, 50):8.1f}  p95 {percentile(ms, 95):8.1f}  "
            f"p99 {percentile(ms, 99):8.1f}  max {ms[-1]:8.1f} ms"
        )
    for what, times in sorted(stats.errors.items()):
        print(f"    error {what}: {times}")
    return errors == 0 and stats.timeouts == 0


def check_database(bench: Bench, watermark: int) -> bool:
    """Every charger's transaction: a COMPLETED session with the metered energy, and a CDR with that energy."""
    from cdrs.models import Cdr
    from chargepoints.models import OcppTransaction

    q = Decimal("0.001")
    transactions = {
        tx.charge_point.identity: tx
        for tx in OcppTransaction.objects.filter(pk__gt=watermark, charge_point__identity__startswith="BENCH-CP-")
        .select_related("charge_point", "session")
        .order_by("pk")
    }
    cdrs = {
        cdr.session_id: cdr
        for cdr in Cdr.objects.filter(
            session_id__in=[tx.session.ocpi_id for tx in transactions.values() if tx.session is not None]
        )
    }
    problems: list[str] = []
    sessions_ok = cdrs_ok = 0
    for charger in bench.chargers:
        expected = (Decimal(charger.meter_wh - charger.meter_start) / 1000).quantize(q)
        tx = transactions.get(charger.identity)
        if tx is None:
            problems.append(f"{charger.identity}: no transaction ({charger.failed or 'not started'})")
            continue
        session = tx.session
        if session is None:
            problems.append(f"{charger.identity}: transaction {tx.transaction_id} has no session")
            continue
        if session.status != "COMPLETED" or Decimal(session.kwh or 0).quantize(q) != expected:
            problems.append(
                f"{charger.identity}: session {session.status} {session.kwh} kWh, expected COMPLETED {expected}"
                + (f" ({charger.failed})" if charger.failed else "")
            )
            continue
        sessions_ok += 1
        cdr = cdrs.get(session.ocpi_id)
        if cdr is None or Decimal(cdr.total_energy).quantize(q) != expected:
            problems.append(f"{charger.identity}: CDR {getattr(cdr, 'total_energy', None)} kWh, expected {expected}")
            continue
        cdrs_ok += 1
    print(
        f"database check: {len(bench.chargers)} chargers, {len(transactions)} transactions checked: "
        f"{sessions_ok} COMPLETED sessions with the metered energy, {cdrs_ok} CDRs with that energy"
    )
    for problem in problems[:10]:
        print(f"    {problem}")
    if len(problems) > 10:
        print(f"    ... {len(problems) - 10} more")
    return not problems


def run_phase(args: argparse.Namespace, env: dict[str, str], password: str, n: int) -> bool:
    from chargepoints.models import OcppTransaction

    watermark = OcppTransaction.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    k = args.servers
    ports = [free_port() for _ in range(k)]
    log_paths = [Path(tempfile.gettempdir()) / f"bench_ocpp_server_{n}_{i}.log" for i in range(k)]
    print(
        f"\n=== N={n} chargers, OCPP {args.protocol}, {k} server process{'es' if k > 1 else ''}: "
        f"server log{'s' if k > 1 else ''} {', '.join(map(str, log_paths))}",
        flush=True,
    )
    servers: list[subprocess.Popen[bytes]] = []
    cpu_before: list[float] = []
    try:
        for i, (port, log_path) in enumerate(zip(ports, log_paths, strict=True)):
            command = [sys.executable, "manage.py", "ocpp_server", "--host", "127.0.0.1", "--port", str(port)]
            command += ["--server-id", f"bench-{i}"]
            with log_path.open("wb") as log:
                servers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
        for port, server in zip(ports, servers, strict=True):
            wait_port(port, server)
        bench = Bench(args, ports, password, n)
        cpu_before = [process_cpu(server.pid) for server in servers]
        cpu = asyncio.run(bench.run([server.pid for server in servers]))
        cpu_each = [process_cpu(server.pid) - before for server, before in zip(servers, cpu_before, strict=True)]
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)  # asyncio.run cancels serve_forever: the server unregisters
        for server in servers:
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    if k > 1:
        for i, used in enumerate(cpu_each):
            chargers = len(range(i, n, k))
            print(f"server bench-{i}: {chargers} chargers, CPU {used:.1f} s during the run")
    ok = report(
        "connect phase (handshake, BootNotification, StatusNotification)", n, bench.connect_stats, cpu["connect"]
    )
    load_label = f"load phase (transaction, MeterValues every {args.interval:g} s for {args.duration:g} s)"
    ok = report(load_label, n, bench.load_stats, cpu["load"]) and ok
    both = Stats()
    for stats in (bench.connect_stats, bench.load_stats):
        for action, values in stats.latencies.items():
            both.latencies[action].extend(values)
    total_ms = sorted(v * 1000 for values in both.latencies.values() for v in values)
    elapsed = cpu["connect"][2] + cpu["load"][2]
    server_cpu = cpu["connect"][0] + cpu["load"][0]
    if total_ms:
        print(
            f"SUMMARY N={n} OCPP {args.protocol}: messages {len(total_ms)}, {len(total_ms) / elapsed:.1f} messages/s "
            f"over {elapsed:.0f} s, p50 {percentile(total_ms, 50):.1f} ms, p95 {percentile(total_ms, 95):.1f} ms, "
            f"p99 {percentile(total_ms, 99):.1f} ms, errors "
            f"{sum(bench.connect_stats.errors.values()) + sum(bench.load_stats.errors.values())}, timeouts "
            f"{bench.connect_stats.timeouts + bench.load_stats.timeouts}, server CPU {server_cpu:.1f} s = "
            f"{server_cpu / len(total_ms) * 1000:.1f} ms per message",
            flush=True,
        )
    return check_database(bench, watermark) and ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chargers", default="100,500", help="comma-separated N, one run each (default 100,500)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of each transaction (default 60)")
    parser.add_argument("--interval", type=float, default=10.0, help="MeterValues interval in seconds (default 10)")
    parser.add_argument("--protocol", choices=["1.6", "2.0.1"], default="1.6", help="OCPP version (default 1.6)")
    parser.add_argument(
        "--connect-rate",
        type=float,
        default=2.0,
        help="new connections per second in the connect phase (default 2: one HTTP Basic check is a PBKDF2 of "
        "~0.5 s with Django's default hasher, on the server's one ORM thread)",
    )
    parser.add_argument("--connect-timeout", type=float, default=60.0, help="WebSocket opening timeout (default 60)")
    parser.add_argument("--call-timeout", type=float, default=30.0, help="CALL answer timeout (default 30)")
    parser.add_argument(
        "--password-iterations",
        type=int,
        default=0,
        help="measurement aid: store the bench charge points' password as PBKDF2-SHA256 with this many iterations "
        "instead of Django's default hasher (0, the default: production hashing). Shows what the HTTP Basic check "
        "costs the server; a cheap hash is defensible only for random machine passwords",
    )
    parser.add_argument("--progress", type=float, default=5.0, help="seconds between progress lines (default 5)")
    parser.add_argument(
        "--servers",
        type=int,
        default=1,
        help="ocpp_server processes, each on its own port with its own --server-id; charger i connects to server "
        "i mod K (default 1)",
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.chargers.split(",") if n.strip()]
    if args.servers < 1:
        raise SystemExit("--servers must be at least 1")

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        raise SystemExit("set REDIS_URL (e.g. redis://127.0.0.1:6379/6): the server's RPC queue and outbox tasks")
    if urlsplit(database_url).hostname not in ("127.0.0.1", "localhost", "::1") or not database_url.startswith(
        "postgres"
    ):
        raise SystemExit(f"DATABASE_URL must be a loopback PostgreSQL database, not {database_url!r}")
    env = {**os.environ, **BENCH_ENV, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    ensure_database(database_url)
    migrate(env)
    import django

    django.setup()
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    password = seed(max(sizes))
    hashing = set_password_hash(password, args.password_iterations)
    print(
        f"OCPP {args.protocol}, chargers {sizes}, transaction {args.duration:g} s, MeterValues every "
        f"{args.interval:g} s, connects {args.connect_rate:g}/s, {args.servers} server process(es), "
        f"password hash {hashing}, CPUs {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.1f} before (a shared machine: other processes compete for the CPUs)",
        flush=True,
    )
    ok = True
    for n in sizes:
        ok = run_phase(args, env, password, n) and ok
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
