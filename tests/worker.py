"""A REAL Celery worker subprocess for `@pytest.mark.worker` tests.

It runs `celery -A ocpi_platform worker` (prefork, concurrency 2) with the test settings against the SAME
test database pytest-django created (so use `@pytest.mark.django_db(transaction=True)`: the test's writes
must be committed for the worker to see them) and the broker in REDIS_URL (use a db of your own, e.g.
redis://127.0.0.1:6379/5). Skipped when REDIS_URL is not set or the database is SQLite (an in-memory test
database cannot be shared with another process).

    def test_x(celery_worker):
        ...                      # the worker delivers what the test enqueues
        celery_worker.kill()     # SIGKILL, like a crashed machine (the whole process group)
        celery_worker.start()    # a fresh worker
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent


def _database_url(settings_dict: dict[str, Any]) -> str:
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{quote(settings_dict['NAME'])}"


class CeleryWorker:
    """Start, kill and stop one worker process group; its log is kept for failure messages."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix="outbox-worker-", suffix=".log")[1])
        self.hostname = f"outbox-test-{uuid.uuid4().hex[:8]}@%h"

    def start(self, timeout: float = 60.0) -> None:
        assert self.proc is None, "worker already running"
        offset = self.log_path.stat().st_size
        log = self.log_path.open("ab")
        celery = Path(sys.executable).with_name("celery")
        self.proc = subprocess.Popen(
            [
                str(celery) if celery.exists() else "celery",
                "-A",
                "ocpi_platform",
                "worker",
                "-P",
                "prefork",
                "-c",
                "2",
                "-n",
                self.hostname,
                "-l",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes the pool children too
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Celery worker exited with {self.proc.returncode}:\n{self.log()}")
            with self.log_path.open("rb") as f:
                f.seek(offset)
                if b" ready." in f.read():
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Celery worker not ready after {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool: tasks in flight die without acking or cleaning up."""
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]


@pytest.fixture
def celery_worker(transactional_db: Any) -> Iterator[CeleryWorker]:
    from django.db import connection

    from ocpi_platform.celery import app

    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        pytest.skip("worker tests need Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/5)")
    if connection.vendor != "postgresql":
        pytest.skip("worker tests need PostgreSQL: the worker must share the test database (DATABASE_URL)")
    broker = os.environ.get("CELERY_BROKER_URL", redis_url)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ocpi_platform.settings.test",
        "DATABASE_URL": _database_url(connection.settings_dict),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": broker,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DJANGO_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    # This process enqueues to the same broker (on_commit / beat requeue) instead of running tasks inline.
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.task_always_eager = False
    app.conf.broker_url = broker
    app.control.purge()  # messages left by an earlier run
    worker = CeleryWorker(env)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.update(saved)
        print(f"\n--- celery worker log ({worker.log_path}) ---\n{worker.log()}")  # noqa: T201 - shown on failure
