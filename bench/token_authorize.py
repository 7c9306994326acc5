"""Latency benchmark of real-time authorization: our eMSP Tokens Sender, POST {uid}/authorize (tokens.md 3.2).

    .venv/bin/python bench/token_authorize.py [--duration 10] [--clients 20] [--workers 2] [--threads 4]
                                              [--rates 0,100,200,300,400,500] [--no-message-log]

Production-like: gunicorn (gthread workers, keep-alive) on 127.0.0.1 serving ocpi_platform.settings.base with
PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/ocpi_bench_auth). The script creates the
database if missing, migrates it, seeds 10,000 of our eMSP tokens (5 % blocked) and a registered CPO partner,
then runs one phase per entry of `--rates`: `--clients` keep-alive connections (one lean asyncio client) POST
authorize for random tokens with a LocationReferences body and the routing headers a CPO sends, for
`--duration` seconds. Rate 0 is a closed loop (each client sends its next request as soon as it has the
answer: saturation, where latency is just clients / throughput); a rate N paces the clients to N requests/s
in total, latency counted from when each request was due. Per phase it prints requests/s, errors, p50/p95/p99/
max latency, the server-side time of each request (MessageLog.duration_ms) and the CPU per request of gunicorn,
PostgreSQL and the load client, then the highest paced rate whose p99 is under 25 ms.

Every request writes its MessageLog row as in production (through the batch writer). `--no-message-log` swaps
the recorder for a no-op in the gunicorn workers: a measurement aid to show what the log costs, never a
production setting.

This file doubles as the WSGI module gunicorn loads (`token_authorize:application`), so that switch works
without a settings file of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ocpi_bench_auth"
TOKENS = 10_000
TARGET_P99_MS = 25
UID_FORMAT = "BENCH{:08d}"
PARTNER_NAME = "Bench CPO"
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "ocpi_platform.settings.base",
    "DJANGO_SECRET_KEY": "bench-only-secret-key-not-for-production",
    "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECURE_HSTS_SECONDS": "0",
    "OCPI_BASE_URL": "http://127.0.0.1",
    # The benchmark measures the endpoint, not the per-partner rate limit (one partner sends everything here).
    "OCPI_RATE_LIMIT_PER_SECOND": "0",
}


# --- WSGI side (imported by gunicorn in each worker) ----------------------------------------------


def null_recorder(**kwargs: Any) -> None:
    """--no-message-log: measurement only."""


@cache
def _wsgi_application() -> Any:
    sys.path.insert(0, str(ROOT))
    for key, value in BENCH_ENV.items():
        os.environ.setdefault(key, value)
    from ocpi_platform.wsgi import application  # the production entry point, as gunicorn loads it

    if os.environ.get("BENCH_NO_MESSAGE_LOG") == "1":
        from django.conf import settings

        settings.OCPI_MESSAGE_RECORDER = f"{__name__}.null_recorder"  # read on the first request
    return application


def __getattr__(name: str) -> Any:  # PEP 562: gunicorn reads `application` lazily
    if name == "application":
        return _wsgi_application()
    raise AttributeError(name)


# --- database and seed ----------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def seed() -> tuple[str, list[str]]:
    """10,000 of our eMSP tokens (NL/EXA, every 20th blocked) and a registered CPO partner; returns its token."""
    import datetime as dt

    from django.db import connection

    from ocpi_platform.ocpi.tokens import token_generate, token_hash
    from partners.models import Partner, PartnerRole, PartnerState, PartnerToken, Party, Role, TokenKind
    from tokens.models import Token, TokenType, WhitelistType

    Party.objects.get_or_create(role=Role.EMSP, country_code="NL", party_id="EXA", defaults={"name": "Example eMSP"})
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    uids = [UID_FORMAT.format(i) for i in range(TOKENS)]
    Token.objects.bulk_create(
        [
            Token(
                country_code="NL",
                party_id="EXA",
                ocpi_id=uid,
                type=TokenType.RFID,
                contract_id=f"NL-EXA-C{i:08d}",
                issuer="Example eMSP",
                valid=i % 20 != 0,
                whitelist=WhitelistType.ALLOWED,
                language="en",
                last_updated=t0,
            )
            for i, uid in enumerate(uids)
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    partner, _ = Partner.objects.update_or_create(
        name=PARTNER_NAME, defaults={"state": PartnerState.REGISTERED, "version": "2.2.1", "outbound_token": "x"}
    )
    PartnerRole.objects.get_or_create(partner=partner, role=Role.CPO, country_code="BE", party_id="BCH")
    PartnerToken.objects.filter(partner=partner).delete()
    token = token_generate()
    PartnerToken.objects.create(partner=partner, kind=TokenKind.CURRENT, token_hash=token_hash(token))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tokens_token")
    return token, uids


def explain_lookup() -> str:
    from django.db import connection

    from tokens.models import Token
    from tokens.selectors import token_get_for_authorization

    queryset = Token.objects.owned_by_us().filter(ocpi_id__iexact="BENCH00004242", type="RFID").order_by("pk")[:1]
    assert token_get_for_authorization(uid="bench00004242") is not None
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + sql, params)
        return "\n".join("    " + row[0] for row in cursor.fetchall())


# --- load -----------------------------------------------------------------------------------------


def server_cpu_seconds(master_pid: int) -> float:
    """User+system CPU of the gunicorn master and its workers (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    pids = [master_pid]
    try:
        pids += [int(pid) for pid in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()]
        total = 0
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, ValueError, IndexError):
        return 0.0
    return total / tick


def postgres_cpu() -> dict[int, float]:
    """CPU seconds (user+system) of every local PostgreSQL process by pid (backends, WAL writer...); Linux /proc."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text.split("(", 1)[1].rsplit(")", 1)
        if name.startswith("postgres"):
            fields = rest.split()
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


class PostgresCpuMeter:
    """CPU used by PostgreSQL between start() and stop(), sampled every 0.2 s so that a backend ending meanwhile
    (Django reconnects every CONN_MAX_AGE) still counts up to its last sample."""

    def __init__(self) -> None:
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self._last.update(postgres_cpu())  # a backend that started meanwhile counts from 0

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._sample()

    def start(self) -> PostgresCpuMeter:
        self._sample()
        self._first = dict(self._last)
        self._thread.start()
        return self

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._sample()
        return sum(seconds - self._first.get(pid, 0.0) for pid, seconds in self._last.items())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, headers: dict[str, str], seconds: float = 30.0) -> None:
    import requests

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.post(url, headers=headers, timeout=2).status_code in (200, 404):
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer at {url}")


def run_clients(
    *, base: str, auth: str, uids: list[str], clients: int, duration: float, max_requests: int, rate: float
) -> tuple[list[float], int, float]:
    """`clients` keep-alive HTTP/1.1 connections on one asyncio loop, each sending its next request as soon as
    the previous answer is read (closed loop) or on its share of `rate` (paced).

    The client is deliberately lean (raw HTTP over asyncio streams, ~0.1 ms of CPU a request instead of ~1 ms
    with requests): it shares the machine's two cores with gunicorn and PostgreSQL, and what it burns is not
    the server's latency. Each answer is checked (HTTP 200, OCPI 1000, ALLOWED or BLOCKED).
    """
    return asyncio.run(
        _run_clients(
            base=base, auth=auth, uids=uids, clients=clients, duration=duration, max_requests=max_requests, rate=rate
        )
    )


async def _run_clients(
    *, base: str, auth: str, uids: list[str], clients: int, duration: float, max_requests: int, rate: float
) -> tuple[list[float], int, float]:
    import orjson

    url = urlsplit(base)
    # A CPO's request as a real partner sends it: routing headers to our eMSP party, request ids.
    head = (
        f"Host: {url.hostname}:{url.port}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\n"
        f"OCPI-from-country-code: BE\r\nOCPI-from-party-id: BCH\r\n"
        f"OCPI-to-country-code: NL\r\nOCPI-to-party-id: EXA\r\n"
    )
    latencies: list[float] = []
    errors = 0
    budget = max_requests
    interval = clients / rate if rate > 0 else 0.0
    loop = asyncio.get_running_loop()
    stop_at = 0.0
    open_connections = 0
    all_connected, go = asyncio.Event(), asyncio.Event()

    async def exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, index: int, number: int, rng: random.Random
    ) -> tuple[bytes, bytes]:
        uid = rng.choice(uids)
        body = f'{{"location_id":"LOC{rng.randrange(500)}","evse_uids":["BE*BCH*E{rng.randrange(4)}"]}}'
        request = (
            f"POST {url.path}/{uid}/authorize HTTP/1.1\r\n{head}X-Request-ID: bench-{index}-{number}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()
        writer.write(request)
        header = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", header).group(1))
        return header, await reader.readexactly(length)

    async def client(index: int) -> None:
        nonlocal errors, budget, open_connections
        rng = random.Random(index)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        # One untimed request first: gunicorn's gthread worker parks a new connection in a worker thread until
        # its first request arrives; a CPO's keep-alive connection is past that before a driver shows up.
        await exchange(reader, writer, index, -1, rng)
        open_connections += 1
        if open_connections == clients:
            all_connected.set()
        await go.wait()  # keep-alive connections are open before the clock starts, as a CPO's are
        next_at = loop.time() + rng.random() * interval
        try:
            while loop.time() < stop_at and budget > 0:
                budget -= 1
                scheduled = loop.time()
                if interval:
                    scheduled = next_at
                    delay = next_at - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                header, content = await exchange(reader, writer, index, budget, rng)
                # From when the request was due, not when a late client got round to it: a slow answer
                # delays the next request of that client, and that wait counts (no coordinated omission).
                latencies.append(loop.time() - scheduled)
                try:
                    data = orjson.loads(content)
                    ok = (
                        header.startswith(b"HTTP/1.1 200")
                        and data["status_code"] == 1000
                        and data["data"]["allowed"] in ("ALLOWED", "BLOCKED")
                    )
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    ok = False
                if not ok:
                    errors += 1
        finally:
            writer.close()

    tasks = [asyncio.create_task(client(i)) for i in range(clients)]
    await all_connected.wait()
    stop_at = loop.time() + duration
    started = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    index = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per phase (default 10)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent keep-alive clients (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument(
        "--rates",
        default="0,100,200,300,400,500",
        help="phases, total requests/s the clients pace to; 0 = closed loop, as fast as they can (default "
        "0,100,200,300,400,500)",
    )
    parser.add_argument("--max-requests", type=int, default=200_000, help="upper bound on requests per phase")
    parser.add_argument("--no-message-log", action="store_true", help="measurement only: no MessageLog write")
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    host = urlsplit(database_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to run against a non-loopback database host {host!r}")
    env = {**os.environ, **BENCH_ENV, "DATABASE_URL": database_url, "DJANGO_LOG_LEVEL": "INFO"}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    ensure_database(database_url)
    migrate(env)
    import django

    django.setup()
    partner_token, uids = seed()
    from django.utils import timezone

    from ocpi_platform.ocpi.tokens import token_encode_header
    from partners.models import MessageLog

    auth = token_encode_header(partner_token)
    print(f"token lookup plan (PostgreSQL):\n{explain_lookup()}")

    port = free_port()
    base = f"http://127.0.0.1:{port}/ocpi/emsp/2.2.1/tokens"
    log_path = Path(tempfile.gettempdir()) / "bench_token_authorize_gunicorn.log"
    gunicorn_env = {**env, "BENCH_NO_MESSAGE_LOG": "1" if args.no_message_log else "0"}
    command = [
        str(VENV_BIN / "gunicorn"), "token_authorize:application",
        "--pythonpath", str(Path(__file__).resolve().parent), "--chdir", str(ROOT),
        "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
        "--worker-class", "gthread", "--threads", str(args.threads), "--keep-alive", "30",
        "--log-level", "warning",
    ]  # fmt: skip
    print(
        f"gunicorn gthread {args.workers} workers x {args.threads} threads, {args.clients} keep-alive clients, "
        f"{args.duration:.0f} s per phase, message log {'OFF (measurement only)' if args.no_message_log else 'on'}, "
        f"CPUs {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} before"
    )
    phases = []
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=gunicorn_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(f"{base}/{uids[1]}/authorize", {"Authorization": auth})
            # Warm-up: every worker thread opens its database connection and imports everything.
            run_clients(base=base, auth=auth, uids=uids, clients=args.clients, duration=2.0, max_requests=2000, rate=0)
            for rate in rates:
                started_at = timezone.now()
                server_cpu, client_cpu = server_cpu_seconds(server.pid), time.thread_time()
                database_cpu = PostgresCpuMeter().start()
                latencies, errors, elapsed = run_clients(
                    base=base,
                    auth=auth,
                    uids=uids,
                    clients=args.clients,
                    duration=args.duration,
                    max_requests=args.max_requests,
                    rate=rate,
                )
                phases.append(
                    {
                        "rate": rate,
                        "window": (started_at, timezone.now()),
                        "ms": sorted(value * 1000 for value in latencies),
                        "errors": errors,
                        "elapsed": elapsed,
                        "server_cpu": server_cpu_seconds(server.pid) - server_cpu,
                        "database_cpu": database_cpu.stop(),
                        "client_cpu": time.thread_time() - client_cpu,
                    }
                )
                print(f"  phase {'closed loop' if not rate else f'{rate:.0f} req/s'} done", flush=True)
        finally:
            server.send_signal(signal.SIGTERM)  # the workers write their buffered message log rows on exit
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()

    print(
        f"{'load':>12} {'req/s':>6} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'server p50/p99 ms':>17}   CPU ms per request: gunicorn / PostgreSQL / client"
    )
    met = []
    for phase in phases:
        ms, count = phase["ms"], len(phase["ms"])
        server_ms = sorted(
            MessageLog.objects.filter(
                created_at__range=phase["window"], url__contains="/authorize", direction="IN"
            ).values_list("duration_ms", flat=True)
        )
        server = f"{percentile(server_ms, 50)}/{percentile(server_ms, 99)}" if server_ms else "-"
        label = "closed loop" if not phase["rate"] else f"{phase['rate']:.0f} paced"
        p99 = percentile(ms, 99)
        if phase["rate"] and p99 < TARGET_P99_MS and not phase["errors"]:
            met.append(phase["rate"])
        print(
            f"{label:>12} {count / phase['elapsed']:6.0f} {phase['errors']:6d} {percentile(ms, 50):7.2f} "
            f"{percentile(ms, 95):7.2f} {p99:7.2f} {ms[-1]:7.2f} {server:>17}   "
            f"{phase['server_cpu'] / count * 1000:.2f} / {phase['database_cpu'] / count * 1000:.2f} / "
            f"{phase['client_cpu'] / count * 1000:.2f}"
        )
    print(
        f"p99 under {TARGET_P99_MS} ms with {args.clients} concurrent clients: "
        + (f"up to {max(met):.0f} req/s (paced phases)" if met else "at none of the paced rates")
        + f"; closed loop (saturation) is limited by throughput: latency = {args.clients} clients / req/s"
    )
    print(f"gunicorn log: {log_path}; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
