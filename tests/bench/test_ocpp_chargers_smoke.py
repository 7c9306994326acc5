"""Smoke test of bench/ocpp_chargers.py: 3 chargers, a few seconds, both OCPP versions, so the script cannot rot.

Needs PostgreSQL and Redis like the benchmark (the server is a `manage.py ocpp_server` subprocess): set
DATABASE_URL=postgres://... and REDIS_URL=redis://...; skipped otherwise. The benchmark runs in a database of its
own, `<DATABASE_URL's name>_bench_ocpp` (created and migrated by the script), never the test database.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

pytestmark = pytest.mark.skipif(
    not (DATABASE_URL.startswith("postgres") and REDIS_URL),
    reason="the OCPP benchmark needs PostgreSQL and Redis: set DATABASE_URL=postgres://... and REDIS_URL",
)


def bench_database_url() -> str:
    parts = urlsplit(DATABASE_URL)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_bench_ocpp"))


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"])
def test_three_chargers_complete_their_transactions(protocol: str) -> None:
    env = {**os.environ, "DATABASE_URL": bench_database_url(), "REDIS_URL": REDIS_URL}
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the script sets ocpi_platform.settings.base itself
    run = subprocess.run(
        [
            sys.executable,
            "bench/ocpp_chargers.py",
            "--chargers=3",
            "--duration=2",
            "--interval=1",
            "--connect-rate=10",
            "--progress=1",
            f"--protocol={protocol}",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert f"SUMMARY N=3 OCPP {protocol}: messages " in out
    assert "errors 0, timeouts 0" in out
    assert "3 transactions checked: 3 COMPLETED sessions with the metered energy, 3 CDRs with that energy" in out
    # every kind of message was answered and timed
    for action in (
        ["BootNotification", "StatusNotification", "Authorize", "TransactionEvent"]
        if protocol == "2.0.1"
        else [
            "BootNotification",
            "StatusNotification",
            "Authorize",
            "StartTransaction",
            "MeterValues",
            "StopTransaction",
        ]
    ):
        assert f"    {action} " in out, action


def test_chargers_spread_over_two_server_processes() -> None:
    env = {**os.environ, "DATABASE_URL": bench_database_url(), "REDIS_URL": REDIS_URL}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [
            sys.executable,
            "bench/ocpp_chargers.py",
            "--chargers=4",
            "--servers=2",
            "--duration=2",
            "--interval=1",
            "--connect-rate=10",
            "--progress=1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert "2 server process(es)" in out
    assert "server bench-0: 2 chargers, CPU " in out and "server bench-1: 2 chargers, CPU " in out
    assert "errors 0, timeouts 0" in out
    assert "4 transactions checked: 4 COMPLETED sessions with the metered energy, 4 CDRs with that energy" in out
