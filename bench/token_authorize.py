"""Latency benchmark of real-time authorization: our eMSP Tokens Sender, POST {uid}/authorize (tokens.md 3.2).

    .venv/bin/python bench/token_authorize.py [--duration 15] [--clients 20] [--workers 2] [--threads 4]
                                              [--rate 0] [--max-requests 200000] [--no-message-log]

Production-like: gunicorn (gthread workers, keep-alive) on 127.0.0.1 serving ocpi_platform.settings.base with
PostgreSQL (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/ocpi_bench_auth). The script creates the
database if missing, migrates it, seeds 10,000 of our eMSP tokens (5 % blocked) and a registered CPO partner,
then `--clients` keep-alive connections (one lean asyncio client) each POST authorize for random tokens with a
LocationReferences body for `--duration` seconds (or `--max-requests`), and prints p50/p95/p99 latency and
requests/s. `--rate N` paces the clients to N requests/s in total (a realistic load instead of saturation).

Every request writes its MessageLog row as in production. `--no-message-log` swaps the recorder for a no-op
in the gunicorn workers: a measurement aid to show what the log costs, never a production setting. The script
also times the log insert on its own and prints the server-side time per request taken from MessageLog.

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
import statistics
import subprocess
import sys
import tempfile
import time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ocpi_bench_auth"
TOKENS = 10_000
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
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    if os.environ.get("BENCH_NO_MESSAGE_LOG") == "1":
        from django.conf import settings

        settings.OCPI_MESSAGE_RECORDER = f"{__name__}.null_recorder"
    return app


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


def time_message_log_insert(n: int = 2000) -> float:
    """Milliseconds per MessageLog insert as the middleware writes it (autocommit, ~1 kB bodies)."""
    from partners.models import MessageLog, Partner
    from partners.services import message_log_record

    partner = Partner.objects.get(name=PARTNER_NAME)
    body = b'{"location_id":"LOC1","evse_uids":["BE*BCH*E1"]}'
    answer = b"x" * 900
    started = time.perf_counter()
    for _ in range(n):
        message_log_record(
            direction="IN", partner=partner, method="POST", url="/ocpi/emsp/2.2.1/tokens/BENCH00000001/authorize",
            http_status=200, ocpi_status=1000, duration_ms=2, request_id="bench", correlation_id="bench",
            request_body=body, response_body=answer,
        )  # fmt: skip
    elapsed = time.perf_counter() - started
    MessageLog.objects.filter(request_id="bench", correlation_id="bench").delete()
    return elapsed / n * 1000


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


def postgres_cpu_seconds() -> float:
    """User+system CPU of every local PostgreSQL process (backends, WAL writer...); Linux /proc, 0 elsewhere."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text.split("(", 1)[1].rsplit(")", 1)
        if name.startswith("postgres"):
            fields = rest.split()
            total += int(fields[11]) + int(fields[12])
    return total / tick


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
    stop_at = loop.time() + duration

    async def client(index: int) -> None:
        nonlocal errors, budget
        rng = random.Random(index)
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        next_at = loop.time() + rng.random() * interval
        try:
            while loop.time() < stop_at and budget > 0:
                budget -= 1
                if interval:
                    delay = next_at - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                uid = rng.choice(uids)
                body = f'{{"location_id":"LOC{rng.randrange(500)}","evse_uids":["BE*BCH*E{rng.randrange(4)}"]}}'
                request = (
                    f"POST {url.path}/{uid}/authorize HTTP/1.1\r\n{head}X-Request-ID: bench-{index}-{budget}\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n{body}"
                ).encode()
                sent = time.perf_counter()
                writer.write(request)
                header = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", header).group(1))
                content = await reader.readexactly(length)
                latencies.append(time.perf_counter() - sent)
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

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    index = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load (default 15)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent keep-alive clients (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker (default 4)")
    parser.add_argument("--rate", type=float, default=0.0, help="total requests/s to pace to (0: as fast as possible)")
    parser.add_argument("--max-requests", type=int, default=200_000, help="upper bound on requests (default 200000)")
    parser.add_argument("--no-message-log", action="store_true", help="measurement only: no MessageLog write")
    args = parser.parse_args()

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
    from ocpi_platform.ocpi.tokens import token_encode_header

    auth = token_encode_header(partner_token)
    print(f"token lookup plan (PostgreSQL):\n{explain_lookup()}")
    log_insert_ms = time_message_log_insert()

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
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=gunicorn_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(f"{base}/{uids[1]}/authorize", {"Authorization": auth})
            # Warm-up: every worker thread opens its database connection and imports everything.
            run_clients(base=base, auth=auth, uids=uids, clients=args.clients, duration=2.0, max_requests=2000, rate=0)
            from django.utils import timezone

            from partners.models import MessageLog

            measured_from = timezone.now()
            server_cpu, client_cpu = server_cpu_seconds(server.pid), time.process_time()
            database_cpu = postgres_cpu_seconds()
            latencies, errors, elapsed = run_clients(
                base=base,
                auth=auth,
                uids=uids,
                clients=args.clients,
                duration=args.duration,
                max_requests=args.max_requests,
                rate=args.rate,
            )
            server_cpu = server_cpu_seconds(server.pid) - server_cpu
            database_cpu = postgres_cpu_seconds() - database_cpu
            client_cpu = time.process_time() - client_cpu
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()

    latencies.sort()
    ms = [value * 1000 for value in latencies]
    server_ms = list(
        MessageLog.objects.filter(created_at__gte=measured_from, url__contains="/authorize").values_list(
            "duration_ms", flat=True
        )
    )
    print(
        f"gunicorn gthread {args.workers} workers x {args.threads} threads, {args.clients} clients, "
        f"{'paced to ' + str(args.rate) + ' req/s' if args.rate else 'closed loop'}, "
        f"message log {'OFF (measurement only)' if args.no_message_log else 'on'}, CPUs {os.cpu_count()}"
    )
    print(f"requests {len(ms)}  errors {errors}  elapsed {elapsed:.1f}s  throughput {len(ms) / elapsed:.0f} req/s")
    print(
        f"latency ms  p50 {percentile(ms, 50):.2f}  p95 {percentile(ms, 95):.2f}  p99 {percentile(ms, 99):.2f}  "
        f"max {ms[-1]:.2f}  mean {statistics.fmean(ms):.2f}"
    )
    if server_ms:
        server_ms.sort()
        print(
            f"server time in Django before the log write (MessageLog.duration_ms, {len(server_ms)} rows): "
            f"p50 {percentile(server_ms, 50)} ms  p99 {percentile(server_ms, 99)} ms"
        )
    print(
        f"CPU per request: gunicorn {server_cpu / len(ms) * 1000:.2f} ms, "
        f"PostgreSQL {database_cpu / len(ms) * 1000:.2f} ms, "
        f"load client {client_cpu / len(ms) * 1000:.2f} ms; load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"one MessageLog insert, measured alone: {log_insert_ms:.2f} ms")
    print(f"gunicorn log: {log_path}")


if __name__ == "__main__":
    main()
