"""In-process beat for `make run` (SQLite, eager Celery, no worker, no beat): a daemon thread of the runserver
process runs the CELERY_BEAT_SCHEDULE entries itself, through the same tasks the beat would send.

Why a thread and not `make run` starting a worker and a beat: without Redis there is no broker two processes
can share (kombu's "memory://" lives in one process; a database broker is another dependency and more SQLite
writers), and under eager Celery every queued task already runs inline. What `make run` lacked is only the
clock: retries of failed pushes (the outbox re-queues due deliveries), command timeouts, reservation and token
expiry, periodic pulls and purges. This thread is that clock.

On only when settings.OCPI_INPROCESS_BEAT is true (dev settings: when tasks run eagerly; never in production
or test settings) and only in the process that serves requests: `manage.py runserver`'s child (RUN_MAIN=true)
or `runserver --noreload` — not in migrate, shell, the autoreloader's parent, a worker or gunicorn.

Under eager Celery a task queued with a countdown runs at once and finds its row not due yet, so no task is ever
waiting in a broker: the outbox re-queue runs with no grace (OVERRIDES_WHEN_EAGER) and picks up every delivery
as soon as its retry time has come.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, cast

from celery.schedules import schedule as celery_schedule
from django.conf import settings
from django.db import connections

from ocpi_platform.dispatch import enqueue

logger = logging.getLogger(__name__)

TICK_SECONDS = 5.0  # how often the thread looks for due entries (the shortest schedule is 30 s)
OVERRIDES_WHEN_EAGER: dict[str, dict[str, Any]] = {"partners.tasks.outbox_requeue_due": {"grace_seconds": 0}}

_started: InProcessBeat | None = None
_start_lock = threading.Lock()


def schedule_seconds(entry: Mapping[str, Any]) -> float | None:
    """The interval of a beat entry in seconds (a number, a timedelta or a celery `schedule`); None for the
    kinds this clock does not run (crontab: none in our schedule)."""
    every = entry.get("schedule")
    if isinstance(every, int | float):
        return float(every)
    if isinstance(every, timedelta):
        return every.total_seconds()
    if isinstance(every, celery_schedule):  # crontab and solar are not subclasses of it
        return every.run_every.total_seconds()
    return None


def due_entries(schedule: Mapping[str, Mapping[str, Any]], last_run: Mapping[str, float], now: float) -> list[str]:
    """Names of the entries to run at monotonic time `now`: never run, or their interval has elapsed."""
    due = []
    for name, entry in schedule.items():
        every = schedule_seconds(entry)
        if every is None:
            continue
        last = last_run.get(name)
        if last is None or now - last >= every:
            due.append(name)
    return due


def beat_tick(
    *,
    last_run: dict[str, float],
    now: float | None = None,
    schedule: Mapping[str, Mapping[str, Any]] | None = None,
    run: Callable[..., Any] = enqueue,
) -> dict[str, Any]:
    """Run every due entry once (what the beat would have sent by now); returns {entry: result or error}.

    `last_run` (entry -> monotonic time) is updated in place, also for an entry that raised (it is tried again
    at its next interval, like the beat would). Each entry's own errors are logged, never raised.
    """
    now = time.monotonic() if now is None else now
    if schedule is None:
        schedule = cast(Mapping[str, Mapping[str, Any]], settings.CELERY_BEAT_SCHEDULE)
    eager = bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False))
    results: dict[str, Any] = {}
    for name in due_entries(schedule, last_run, now):
        entry: Mapping[str, Any] = schedule[name]
        task = str(entry["task"])
        extra: dict[str, Any] = dict(entry.get("kwargs") or {})
        kwargs = {**extra, **(OVERRIDES_WHEN_EAGER.get(task, {}) if eager else {})}
        args: tuple[Any, ...] = tuple(entry.get("args") or ())
        last_run[name] = now
        try:
            outcome = run(task, *args, **kwargs)
            results[name] = outcome.result if hasattr(outcome, "result") else outcome
        except Exception as exc:  # one failing entry never stops the clock
            logger.exception("In-process beat: %s (%s) failed", name, task)
            results[name] = exc
    return results


class InProcessBeat(threading.Thread):
    """The daemon thread: a tick every TICK_SECONDS until stop()."""

    def __init__(self, tick_seconds: float = TICK_SECONDS) -> None:
        super().__init__(name="inprocess-beat", daemon=True)
        self.tick_seconds = tick_seconds
        self.last_run: dict[str, float] = {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        logger.info("In-process beat started: %s", ", ".join(settings.CELERY_BEAT_SCHEDULE))
        while not self._stop_event.wait(self.tick_seconds):
            try:
                beat_tick(last_run=self.last_run)
            finally:
                connections.close_all()  # this thread's connections only: no SQLite handle held between ticks

    def stop(self) -> None:
        self._stop_event.set()


def should_start(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """True in the process that serves `manage.py runserver` when settings.OCPI_INPROCESS_BEAT is on."""
    if not getattr(settings, "OCPI_INPROCESS_BEAT", False):
        return False
    if len(argv) < 2 or argv[1] != "runserver":
        return False
    return environ.get("RUN_MAIN") == "true" or "--noreload" in argv


def start_if_enabled(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """Start the thread once per process when should_start(); called from BackofficeConfig.ready()."""
    global _started
    if not should_start(sys.argv if argv is None else argv, os.environ if environ is None else environ):
        return False
    with _start_lock:
        if _started is None:
            _started = InProcessBeat()
            _started.start()
    return True
