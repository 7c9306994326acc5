"""SQLite, the zero-setup database of `make run` and of the second installation in the roaming tests, is written
by several threads and processes at once: with our options concurrent write transactions wait for each other
instead of failing with "database is locked" (`make test` was red on a loaded 2-core machine)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import OperationalError
from django.db.backends.sqlite3.base import DatabaseWrapper

from ocpi_platform.settings.base import SQLITE_OPTIONS

WRITERS = 4


@pytest.fixture(autouse=True)
def _raw_connections_allowed(django_db_blocker: Any) -> Iterator[None]:
    """These tests open their own SQLite files through Django's backend, not the test database."""
    with django_db_blocker.unblock():
        yield


def _connection(path: Path, options: dict[str, Any]) -> DatabaseWrapper:
    settings = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": dict(options),
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        "TEST": {},
    }
    return DatabaseWrapper(settings, alias="raw-sqlite")


def _read_then_write(path: Path, options: dict[str, Any], barrier: threading.Barrier, errors: list[str]) -> None:
    """The shape of our services: a transaction that reads, then writes. The transaction is begun as
    transaction.atomic() begins it on SQLite (BEGIN, or BEGIN <transaction_mode>)."""
    connection = _connection(path, options)
    try:
        connection.ensure_connection()
        connection.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM counter")
            # Without a write lock taken at BEGIN every writer holds a read snapshot here; with one, the first
            # writer holds the lock from BEGIN on and the others wait in their BEGIN (the barrier breaks).
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=3)
            cursor.execute("INSERT INTO counter (n) VALUES (1)")
        connection.commit()
    except OperationalError as exc:
        errors.append(str(exc))
    finally:
        connection.close()


def _run(path: Path, options: dict[str, Any]) -> tuple[list[str], int]:
    setup = _connection(path, options)
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE counter (n INTEGER)")
    errors: list[str] = []
    barrier = threading.Barrier(WRITERS)
    threads = [threading.Thread(target=_read_then_write, args=(path, options, barrier, errors)) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with setup.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM counter")
        (rows,) = cursor.fetchone()
    setup.close()
    return errors, rows


def test_without_our_options_concurrent_writers_fail_with_database_is_locked(tmp_path: Path) -> None:
    """The failure the options prevent, shown so that this test notices if its setup stopped provoking it."""
    errors, rows = _run(tmp_path / "plain.sqlite3", {"timeout": 1})
    assert any("locked" in error for error in errors), errors
    assert rows < WRITERS


def test_with_our_options_concurrent_writers_all_commit(tmp_path: Path) -> None:
    errors, rows = _run(tmp_path / "ours.sqlite3", SQLITE_OPTIONS)
    assert errors == []
    assert rows == WRITERS


def test_our_options_switch_sqlite_to_wal(tmp_path: Path) -> None:
    connection = _connection(tmp_path / "wal.sqlite3", SQLITE_OPTIONS)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        (mode,) = cursor.fetchone()
    connection.close()
    assert mode.lower() == "wal"
