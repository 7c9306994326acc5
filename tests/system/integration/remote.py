"""A second installation of this platform, in its own process and database, for roaming tests.

It runs `manage.py runserver` on a free loopback port with other parties (DE/BBB CPO + DE/BBC eMSP), on
PostgreSQL when the tests use PostgreSQL (a database of its own) and on a SQLite file otherwise.

This is not a fake, so it stays apart from the shared fake partner (tests/fake_partner.py): the tests here check
that two real installations of our code agree with each other (credentials handshake both ways, pushes and pulls
answered by our own Receivers and Senders), which a scripted partner cannot show.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests
from django.conf import settings

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RemotePlatform:
    def __init__(self, parties: str = "CPO:DE:BBB:Remote CPO,EMSP:DE:BBC:Remote eMSP") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.parties = parties
        self.process: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory()
        self._pg_name: str | None = None
        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("postgresql"):
            self._pg_name = f"ocpi_remote_{uuid.uuid4().hex[:10]}"
            user, host, port = db.get("USER") or "postgres", db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
            self.database_url = f"postgres://{user}@{host}:{port}/{self._pg_name}"
        else:
            self.database_url = f"sqlite:///{self._tmp.name}/remote.sqlite3"
        self.log = Path(self._tmp.name) / "remote.log"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
        env.update(
            DJANGO_SETTINGS_MODULE="ocpi_platform.settings.dev",
            DATABASE_URL=self.database_url,
            OCPI_BASE_URL=self.base,
            OCPI_PARTIES=self.parties,
            CELERY_TASK_ALWAYS_EAGER="1",
            OCPI_INPROCESS_BEAT="0",  # no background beat thread: the tests drive every exchange themselves
            REDIS_URL="",
            DJANGO_DEBUG="0",
            DJANGO_LOG_LEVEL="WARNING",
        )
        return env

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            server_log = self.log.read_text()[-4000:] if self.log.exists() else ""
            raise RuntimeError(
                f"remote manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n"
                f"server log:\n{server_log}"
            )
        return result.stdout

    def start(self) -> RemotePlatform:
        if self._pg_name:
            import psycopg

            with psycopg.connect(self.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self._pg_name}"')
        self.manage("migrate", "--noinput", "-v0")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.base}/ocpi/versions", timeout=1).status_code == 401:
                    return self
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"remote platform did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self._pg_name:
            import psycopg

            with psycopg.connect(self.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)')
        self._tmp.cleanup()

    def shell(self, code: str) -> str:
        return self.manage("shell", "-c", code)
