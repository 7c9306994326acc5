"""Benchmark of the outbox: EVSE status changes pushed to many partners by a real Celery worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ocpi_bench_push REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/push_latency.py [--partners 10] [--rate 2000] [--minutes 2] [--concurrency 8]

Needs PostgreSQL and Redis (the defaults above; the database is created and migrated if missing, and the bench's own
rows are replaced at each run, then the database is vacuumed; the Redis db is flushed). It seeds `--locations` x
`--evses-per-location` of our EVSEs, starts `--partners` OCPI Locations Receivers on loopback (one subprocess, one
port each, answering at once and recording every EVSE status they receive with its arrival time), registers them as
eMSP partners, starts a real worker (`celery -A ocpi_platform worker`, prefork; the outbox sends through one drain
task per partner, partners/outbox/drain.py) and lets the outbox send every location once (warm-up: the partners then
hold them, so the changes go out as PATCHes, as in steady state). Then it changes a random EVSE's status `--rate`
times per minute for `--minutes` through the same service the admin, OCPP and the simulator use
(`locations.services.evse_set_status`, one transaction each), recording the commit time.

A change has reached a partner when the partner has received that EVSE with a `last_updated` at or after the
change's (the outbox coalesces: a burst of changes of one location goes out as one request carrying the newest
state, so a change may arrive inside a later one). Printed: per-change latency from commit to arrival at each
partner (p50/p95/p99/max, and each partner's p95), changes not delivered, order (no partner ever receives an
older state of an EVSE after a newer one), final state (every partner's last status of every EVSE equals ours),
requests sent and how many changes each carried, throughput, the worker's CPU per request, the generator's CPU
per change (the write path: evse_set_status with its outbox fan-out, in this process) and the receivers' CPU
per request. BENCH_WORKER_LOGLEVEL=INFO makes the worker log each drain task's report (sent, outcome, duration).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing import Process
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ocpi_bench_push")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ["DJANGO_SETTINGS_MODULE"] = "ocpi_platform.settings.dev"
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
os.environ.setdefault("DJANGO_DEBUG", "0")  # DEBUG keeps every query in memory

CC, PID = "NL", "EXA"  # our CPO party (the dev settings' default OCPI_PARTIES)
STATUSES = ["AVAILABLE", "CHARGING", "BLOCKED", "RESERVED"]


# --- Receivers (a subprocess) ----------------------------------------------------------------------


def _receiver_main(ports: list[int]) -> None:
    """One ThreadingHTTPServer per port; GET /dump returns what that port received."""

    def make_handler(records: list[tuple[str, str, str, float]], lock: threading.Lock, requests: list[int]) -> type:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # The answer goes out as two writes (headers, then body): with Nagle's algorithm the body waits for
            # the client's delayed ACK of the headers, 40 ms per request on Linux loopback. Partners' servers
            # set TCP_NODELAY (our client, urllib3, does too).
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, payload: Any) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _ok(self) -> None:
                self._answer({"status_code": 1000, "timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})

            def do_GET(self) -> None:
                if self.path == "/dump":
                    with lock:
                        self._answer(records)
                    return
                if self.path == "/requests":
                    with lock:
                        self._answer(requests[0])
                    return
                self._ok()

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def _receive(self) -> None:
                arrived = time.time()
                body = self._body()
                parts = [p for p in self.path.split("?")[0].split("/") if p]
                # /ocpi/2.2.1/locations/{cc}/{pid}/{location}[/{evse_uid}[/{connector}]]
                tail = parts[parts.index("locations") + 1 :] if "locations" in parts else []
                got: list[tuple[str, str, str, float]] = []
                if len(tail) == 3:
                    for evse in body.get("evses") or []:
                        got.append((evse["uid"], evse["last_updated"], evse["status"], arrived))
                elif len(tail) == 4 and "status" in body:
                    got.append((tail[3], body["last_updated"], body["status"], arrived))
                with lock:
                    records.extend(got)
                    requests[0] += 1
                self._ok()

            do_PUT = _receive  # noqa: N815
            do_PATCH = _receive  # noqa: N815

        return Handler

    servers = []
    for port in ports:
        records: list[tuple[str, str, str, float]] = []
        server = ThreadingHTTPServer(("127.0.0.1", port), make_handler(records, threading.Lock(), [0]))
        server.daemon_threads = True
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.sigwait({signal.SIGTERM})


def _free_ports(n: int) -> list[int]:
    import socket

    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _dump(port: int) -> list[list[Any]]:
    import requests

    return requests.get(f"http://127.0.0.1:{port}/dump", timeout=30).json()


# --- Database ----------------------------------------------------------------------------------------


def _ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _setup_django() -> None:
    import django

    django.setup()
    import logging

    logging.getLogger("ocpi.inbound").setLevel(logging.WARNING)
    logging.getLogger("ocpi.outbound").setLevel(logging.WARNING)
    from django.core.management import call_command

    print("migrating ...", flush=True)
    call_command("migrate", verbosity=0, interactive=False)


def _reset_and_seed(n_locations: int, evses_per_location: int, ports: list[int]) -> list[str]:
    from django.db import transaction

    from locations.constants import ConnectorFormat, ConnectorType, EVSEStatus, PowerType
    from locations.models import EVSE, Connector, Location
    from ocpi_platform.ocpi.tokens import token_generate, token_hash
    from partners.models import (
        OutboxDelivery,
        Partner,
        PartnerEndpoint,
        PartnerRole,
        PartnerState,
        PartnerToken,
        TokenKind,
    )

    print("seeding ...", flush=True)
    with transaction.atomic():
        OutboxDelivery.objects.all().delete()
        Partner.objects.filter(name__startswith="Bench receiver").delete()
        Location.objects.filter(ocpi_id__startswith="PUSH-").delete()
        t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        locations = Location.objects.bulk_create(
            [
                Location(
                    country_code=CC,
                    party_id=PID,
                    ocpi_id=f"PUSH-{i:05d}",
                    publish=True,
                    name=f"Push station {i}",
                    address=f"Main street {i}",
                    city="Amsterdam",
                    postal_code="1011AB",
                    country="NLD",
                    latitude="52.370216",
                    longitude="4.895168",
                    parking_type="ON_STREET",
                    time_zone="Europe/Amsterdam",
                    last_updated=t0,
                )
                for i in range(n_locations)
            ]
        )
        evses = EVSE.objects.bulk_create(
            [
                EVSE(
                    location=location,
                    country_code=CC,
                    party_id=PID,
                    uid=f"{location.ocpi_id}-{k}",
                    evse_id=f"NL*EXA*E{location.ocpi_id[5:]}{k}",
                    status=EVSEStatus.AVAILABLE,
                    capabilities=["RFID_READER"],
                    last_updated=t0,
                )
                for location in locations
                for k in range(evses_per_location)
            ]
        )
        Connector.objects.bulk_create(
            [
                Connector(
                    evse=evse,
                    ocpi_id="1",
                    standard=ConnectorType.IEC_62196_T2,
                    format=ConnectorFormat.SOCKET,
                    power_type=PowerType.AC_3_PHASE,
                    max_voltage=230,
                    max_amperage=32,
                    last_updated=t0,
                )
                for evse in evses
            ]
        )
        for i, port in enumerate(ports):
            partner = Partner.objects.create(
                name=f"Bench receiver {i:02d}",
                state=PartnerState.REGISTERED,
                outbound_token=f"bench-token-{i}",
                version="2.2.1",
            )
            PartnerRole.objects.create(
                partner=partner,
                role="EMSP",
                country_code="DE",
                party_id=f"B{i:02d}",
                business_details={"name": partner.name},
            )
            PartnerEndpoint.objects.create(
                partner=partner,
                identifier="locations",
                role="RECEIVER",
                url=f"http://127.0.0.1:{port}/ocpi/2.2.1/locations",
            )
            PartnerToken.objects.create(
                partner=partner, kind=TokenKind.CURRENT, token_hash=token_hash(token_generate())
            )
    return [e.uid for e in evses]


def _vacuum() -> None:
    """VACUUM ANALYZE the bench's database: each run deletes and rewrites the outbox, and every delivery is updated
    several times (merge, claim, finish). Where autovacuum is off (this machine's PostgreSQL) the dead rows of the
    earlier runs would otherwise be scanned by every claim, and each run would start slower than the last."""
    from django.db import connection

    print("vacuum ...", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _open_deliveries() -> int:
    from partners.models import OutboxDelivery, OutboxState

    return OutboxDelivery.objects.filter(state=OutboxState.PENDING).count()


def _wait_drained(label: str, timeout: float) -> float:
    start = time.monotonic()
    last_print = 0.0
    while True:
        left = _open_deliveries()
        now = time.monotonic()
        if left == 0:
            return now - start
        if now - start > timeout:
            print(f"  {label}: {left} deliveries still open after {timeout:.0f} s", flush=True)
            return now - start
        if now - last_print > 5:
            print(f"  {label}: {left} deliveries open ...", flush=True)
            last_print = now
        time.sleep(0.5)


# --- Worker -----------------------------------------------------------------------------------------


def _start_worker(concurrency: int, log_path: Path) -> subprocess.Popen[bytes]:
    celery = Path(sys.executable).with_name("celery")
    log = log_path.open("wb")
    return subprocess.Popen(
        [
            str(celery),
            "-A",
            "ocpi_platform",
            "worker",
            "-P",
            "prefork",
            "-c",
            str(concurrency),
            "-l",
            os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"bench-push-{os.getpid()}@%h",
        ],
        cwd=BASE_DIR,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _requests(port: int) -> int:
    import requests

    return int(requests.get(f"http://127.0.0.1:{port}/requests", timeout=30).json())


def _process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _group_cpu_seconds(pgid: int) -> float:
    """utime + stime of every live process of the process group (the worker and its pool)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 (pgrp), after pid and comm
            total += int(fields[11]) + int(fields[12])
    return total / ticks


# --- The run ------------------------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--partners", type=int, default=10)
    parser.add_argument("--rate", type=float, default=2000, help="EVSE status changes per minute")
    parser.add_argument("--minutes", type=float, default=2)
    parser.add_argument("--locations", type=int, default=250)
    parser.add_argument("--evses-per-location", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8, help="worker pool processes")
    parser.add_argument("--drain-timeout", type=float, default=300)
    args = parser.parse_args()

    _ensure_database(os.environ["DATABASE_URL"])
    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    _setup_django()

    ports = _free_ports(args.partners)
    receivers = Process(target=_receiver_main, args=(ports,), daemon=True)
    receivers.start()
    uids = _reset_and_seed(args.locations, args.evses_per_location, ports)
    _vacuum()
    print(
        f"{args.locations} locations, {len(uids)} EVSEs, {args.partners} partner receivers on ports "
        f"{ports[0]}..{ports[-1]}",
        flush=True,
    )

    log_path = Path(f"/tmp/bench-push-worker-{os.getpid()}.log")
    worker = _start_worker(args.concurrency, log_path)
    try:
        time.sleep(3)
        from django.db import close_old_connections

        from locations.models import EVSE, Location
        from locations.services import evse_set_status, location_push_now
        from ocpi_platform.ocpi.envelope import format_datetime

        print("warm-up: every location sent to every partner once ...", flush=True)
        for location in Location.objects.filter(ocpi_id__startswith="PUSH-"):
            location_push_now(location=location)
        warm = _wait_drained("warm-up", args.drain_timeout)
        print(f"  warm-up done in {warm:.1f} s", flush=True)
        baseline = {port: len(_dump(port)) for port in ports}
        requests0 = sum(_requests(port) for port in ports)
        receivers_cpu0 = _process_cpu_seconds(receivers.pid)

        evses = {e.uid: e for e in EVSE.objects.filter(uid__in=uids)}
        status = {uid: e.status for uid, e in evses.items()}
        changes: list[tuple[str, str, str, float]] = []  # uid, last_updated, status, commit time
        total = int(args.rate * args.minutes)
        interval = 60.0 / args.rate
        cpu0 = _group_cpu_seconds(worker.pid)
        generator_cpu0 = time.process_time()
        rng = random.Random(1)
        start = time.monotonic()
        late = 0.0
        last_print = start
        print(f"load: {total} changes at {args.rate:.0f}/min for {args.minutes} min ...", flush=True)
        for i in range(total):
            due = start + i * interval
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            else:
                late = max(late, now - due)
            uid = rng.choice(uids)
            new = rng.choice([s for s in STATUSES if s != status[uid]])
            evse = evse_set_status(evse=evses[uid], status=new)  # its own transaction: committed on return
            committed = time.time()
            status[uid] = new
            evses[uid] = evse
            changes.append((uid, format_datetime(evse.last_updated), new, committed))
            if time.monotonic() - last_print > 10:
                print(f"  {i + 1}/{total} changes, {_open_deliveries()} deliveries open", flush=True)
                last_print = time.monotonic()
        load_seconds = time.monotonic() - start
        generator_cpu = time.process_time() - generator_cpu0
        drain = _wait_drained("drain", args.drain_timeout)
        cpu = _group_cpu_seconds(worker.pid) - cpu0
        receivers_cpu = _process_cpu_seconds(receivers.pid) - receivers_cpu0
        sent_requests = sum(_requests(port) for port in ports) - requests0
        close_old_connections()
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)

    dumps = {port: _dump(port)[baseline[port] :] for port in ports}
    receivers.terminate()
    _report(args, changes, dumps, status, load_seconds, drain, late, cpu)
    per_request = 1000 / max(sent_requests, 1)
    print(
        f"requests sent: {sent_requests} ({sent_requests / max(load_seconds + drain, 1e-9):.0f}/s over load + drain, "
        f"{len(changes) * len(ports) / max(sent_requests, 1):.2f} change-deliveries per request); "
        f"worker CPU {cpu * per_request:.2f} ms per request; "
        f"generator CPU {generator_cpu / len(changes) * 1000:.2f} ms per change (evse_set_status, this process); "
        f"receivers' CPU {receivers_cpu * per_request:.2f} ms per request"
    )
    print(f"worker log: {log_path}")


def _parse(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _report(
    args: argparse.Namespace,
    changes: list[tuple[str, str, str, float]],
    dumps: dict[int, list[list[Any]]],
    final: dict[str, str],
    load_seconds: float,
    drain: float,
    late: float,
    cpu: float,
) -> None:
    latencies: list[float] = []
    per_partner: list[float] = []  # each partner's p95
    missing = 0
    out_of_order = 0
    wrong_final = 0
    received = 0
    exact = 0
    for records in dumps.values():
        received += len(records)
        per_evse: dict[str, list[tuple[dt.datetime, str, float]]] = {}
        for uid, last_updated, status, arrived in sorted(records, key=lambda r: r[3]):
            per_evse.setdefault(uid, []).append((_parse(last_updated), status, arrived))
        for arrivals in per_evse.values():
            stamps = [a[0] for a in arrivals]
            out_of_order += sum(1 for a, b in itertools.pairwise(stamps) if b < a)
        seen_exact = {(uid, _parse(lu)) for uid, lu, _, _ in records}
        first = len(latencies)
        for uid, last_updated, _status, committed in changes:
            stamp = _parse(last_updated)
            exact += (uid, stamp) in seen_exact
            arrived = next((a[2] for a in per_evse.get(uid, []) if a[0] >= stamp), None)
            if arrived is None:
                missing += 1
            else:
                latencies.append(max(0.0, arrived - committed))
        per_partner.append(_pct(latencies[first:], 95))
        for uid, status in final.items():
            arrivals = per_evse.get(uid)
            if (arrivals and max(arrivals, key=lambda a: a[0])[1] != status) or (
                not arrivals and any(c[0] == uid for c in changes)
            ):
                wrong_final += 1
    expected = len(changes) * len(dumps)
    print()
    print(
        f"changes: {len(changes)} in {load_seconds:.1f} s ({len(changes) / load_seconds * 60:.0f}/min, "
        f"generator at most {late * 1000:.0f} ms behind schedule) x {len(dumps)} partners = "
        f"{expected} change-deliveries"
    )
    print(
        f"latency commit -> arrival: p50 {_pct(latencies, 50) * 1000:.0f} ms, p95 {_pct(latencies, 95) * 1000:.0f} ms, "
        f"p99 {_pct(latencies, 99) * 1000:.0f} ms, max {max(latencies or [0]) * 1000:.0f} ms "
        f"(mean {statistics.fmean(latencies or [0]) * 1000:.0f} ms)"
    )
    print("p95 per partner: " + ", ".join(f"{p:.2f}" for p in sorted(per_partner)) + " s")
    print(
        f"delivered: {len(latencies)}/{expected} ({missing} not delivered); exact state sent {exact} "
        f"(the rest arrived coalesced inside a newer state); out of order: {out_of_order}; "
        f"partners' final EVSE status wrong: {wrong_final}"
    )
    print(
        f"EVSE states received: {received} ({received / max(load_seconds + drain, 1e-9):.0f}/s over load + drain); "
        f"drain after the load: {drain:.1f} s"
    )
    if received:
        print(f"worker CPU: {cpu:.1f} s, {cpu / received * 1000:.2f} ms per EVSE state pushed")


if __name__ == "__main__":
    main()
