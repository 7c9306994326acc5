"""Fault-suite fixtures: a real Celery worker started with shortened outbox settings, the misbehaving partner,
our CPO's sites, whole charging sessions through the gateway events, and a "beat" that waits for the outbox
to settle.

Settings shared by the worker (environment, read by tests/system/faults/worker_settings.py) and this process
(pytest-django `settings`): FAULT_SETTINGS, overridable per test through `start_worker(**overrides)`.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from locations.models import EVSE, Location
from locations.services import location_create
from partners.models import OutboxDelivery, OutboxState, Partner
from partners.outbox import outbox_requeue_due
from partners.services import parties_sync_from_settings
from tests.outbox.conftest import location_data, partner_for
from tests.system.faults.receiver import FaultPartner
from tests.worker import CeleryWorker, _database_url

FAULT_SETTINGS: dict[str, float] = {
    "OCPI_OUTBOX_BACKOFF_BASE_SECONDS": 0.25,  # first retry after ~0.25 s, doubling ...
    "OCPI_OUTBOX_BACKOFF_MAX_SECONDS": 2.0,  # ... up to 2 s (production: 5 s and 1 h)
    "OCPI_OUTBOX_MAX_ATTEMPTS": 10_000,  # nothing is dead-lettered during a shortened outage
    "OCPI_OUTBOX_PARTNER_CONCURRENCY": 2,
    "OCPI_OUTBOX_LEASE_MARGIN_SECONDS": 2.0,  # lease = 3 x partner timeout + 2 s
    "OCPI_OUTBOX_REQUEUE_GRACE_SECONDS": 10.0,  # a queued task not run for 10 s is presumed lost
    "OCPI_OUTBOX_MAX_COUNTDOWN_SECONDS": 300.0,
    "OCPI_SESSION_PATCH_MIN_INTERVAL_SECONDS": 0.0,  # every session change is pushed at once
}
SETTLED = (OutboxState.DELIVERED, OutboxState.SKIPPED, OutboxState.SUPERSEDED)


@pytest.fixture(autouse=True)
def _our_parties(db: Any, settings: Any) -> None:
    parties_sync_from_settings()  # our CPO NL/EXA (a transactional test starts from an empty database)
    for name, value in FAULT_SETTINGS.items():
        setattr(settings, name, value)


def _flush_redis(url: str) -> None:
    """FLUSHDB of the broker's own database (REDIS_URL names it), nothing else."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture
def flush_redis() -> Callable[[], None]:
    url = os.environ.get("REDIS_URL", "")
    return lambda: _flush_redis(url)


@pytest.fixture
def start_worker(transactional_db: Any, settings: Any) -> Iterator[Callable[..., CeleryWorker]]:
    """`start_worker(**overrides)`: a REAL Celery worker (prefork, 2 processes) on the test database and the
    Redis in REDIS_URL, with FAULT_SETTINGS (+ overrides) in its environment and in this process's settings.
    Skipped without Redis or on SQLite, like tests/worker.py."""
    from django.db import connection

    from ocpi_platform.celery import app

    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        pytest.skip("fault tests need Redis: set REDIS_URL (e.g. redis://127.0.0.1:6379/9)")
    if connection.vendor != "postgresql":
        pytest.skip("fault tests need PostgreSQL: the worker must share the test database (DATABASE_URL)")
    broker = os.environ.get("CELERY_BROKER_URL", redis_url)
    saved = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.task_always_eager = False
    app.conf.broker_url = broker
    _flush_redis(redis_url)  # messages (and unacked ETAs) left by an earlier run
    workers: list[CeleryWorker] = []

    def start(**overrides: float) -> CeleryWorker:
        values = {**FAULT_SETTINGS, **overrides}
        for name, value in values.items():
            setattr(settings, name, value)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.system.faults.worker_settings",
            "DATABASE_URL": _database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DJANGO_CONN_MAX_AGE": "0",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **{name: str(value) for name, value in values.items()},
        }
        worker = CeleryWorker(env)
        worker.start()
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
        app.conf.update(saved)
        for worker in workers:
            print(f"\n--- celery worker log ({worker.log_path}) ---\n{worker.log()}")  # noqa: T201 - on failure


@pytest.fixture
def partner_rx() -> Iterator[FaultPartner]:
    fake = FaultPartner()
    yield fake
    fake.stop()


@pytest.fixture
def other_rx() -> Iterator[FaultPartner]:
    fake = FaultPartner()
    yield fake
    fake.stop()


@pytest.fixture
def third_rx() -> Iterator[FaultPartner]:
    fake = FaultPartner()
    yield fake
    fake.stop()


# --- our data -------------------------------------------------------------------------------------


def make_sites(count: int, evses: int = 2, prefix: str = "LOC") -> list[Location]:
    """`count` published locations of our CPO, each with `evses` AVAILABLE EVSEs (uids <loc>-E<n>)."""
    return [
        location_create(
            data=location_data(f"{prefix}{i:04d}", evses=tuple(f"{prefix}{i:04d}-E{n}" for n in range(1, evses + 1)))
        )
        for i in range(count)
    ]


def emsp_partner_on(
    receiver: FaultPartner, name: str = "eMSP A", party: tuple[str, str] = ("DE", "EMP"), **fields: Any
) -> Partner:
    """A registered eMSP with locations, sessions and cdrs Receivers on `receiver`."""
    return partner_for(receiver, name=name, party=party, modules=("locations", "sessions", "cdrs"), **fields)


def complete_session(*, evse: EVSE, partner: Partner, number: int) -> Any:
    """One whole session of the partner's driver on `evse` (start, two meter values, stop); returns its CDR."""
    from chargepoints import events

    start = timezone.now() - timedelta(minutes=30)
    token = {
        "country_code": "DE",
        "party_id": "EMP",
        "uid": f"RFID{number:05d}",
        "type": "RFID",
        "contract_id": f"DE-EMP-C{number:08d}-X",
    }
    session = events.session_started(
        evse=evse,
        connector_id=None,
        cdr_token=token,
        auth_method="WHITELIST",
        started_at=start,
        token_owner_partner=partner,
    )
    session = events.meter_values(
        session=session, period_start=start, period_end=start + timedelta(minutes=15), kwh_total=Decimal("2.5")
    )
    session = events.meter_values(
        session=session,
        period_start=start + timedelta(minutes=15),
        period_end=start + timedelta(minutes=30),
        kwh_total=Decimal("5"),
    )
    _, cdr = events.session_stopped(session=session, stopped_at=start + timedelta(minutes=30))
    assert cdr is not None, "the CDR was not issued"
    return cdr


# --- waiting ----------------------------------------------------------------------------------------


def outbox_summary() -> str:
    rows = OutboxDelivery.objects.values_list("module", "state")
    return ", ".join(f"{module}/{state}: {n}" for (module, state), n in sorted(Counter(rows).items()))


def settle(timeout: float, *, beat_every: float = 2.0, worker: CeleryWorker | None = None) -> float:
    """Wait until no delivery is pending, running the beat's outbox_requeue_due every `beat_every` seconds
    (from this process, as the beat would send it). Returns the seconds waited."""
    started = time.monotonic()
    last_beat = started
    while time.monotonic() - started < timeout:
        if not OutboxDelivery.objects.filter(state=OutboxState.PENDING).exists():
            return time.monotonic() - started
        if time.monotonic() - last_beat >= beat_every:
            outbox_requeue_due()
            last_beat = time.monotonic()
        time.sleep(0.2)
    log = worker.log() if worker is not None else ""
    raise AssertionError(f"outbox did not settle in {timeout}s: {outbox_summary()}\n{log}")


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
