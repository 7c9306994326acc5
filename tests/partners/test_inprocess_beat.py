"""Issue 13: with `make run` (eager tasks, no worker, no beat) a failed push is retried by the in-process beat,
and "Retry now" in the outbox admin sends at once. The tick is called directly: no test sleeps or starts the
thread's loop for real."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.schedules import crontab, schedule
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from locations.models import Location
from locations.services import location_create
from ocpi_platform import inprocess_beat
from ocpi_platform.inprocess_beat import InProcessBeat, beat_tick, due_entries, schedule_seconds, should_start
from partners.models import OutboxDelivery, OutboxState
from tests.fake_partner import FakePartner
from tests.outbox.conftest import Clock, location_data, partner_for

ROOT = Path(__file__).resolve().parents[2]
REQUEUE = {"outbox-requeue-due": settings.CELERY_BEAT_SCHEDULE["outbox-requeue-due"]}


@pytest.fixture
def receiver() -> Iterator[FakePartner]:
    fake = FakePartner(check_token=False)
    yield fake
    fake.stop()


@pytest.fixture
def clock(mocker: Any) -> Clock:
    fake = Clock()
    mocker.patch("partners.outbox.services._now", fake)
    return fake


def _create_location(capture: Any) -> Location:
    with capture(execute=True):  # the push runs inline on commit (eager tasks), as under `make run`
        return location_create(data=location_data())


# --- The tick ----------------------------------------------------------------------------------------


def test_schedule_kinds() -> None:
    assert schedule_seconds({"schedule": 30.0}) == 30.0
    assert schedule_seconds({"schedule": timedelta(minutes=2)}) == 120.0
    assert schedule_seconds({"schedule": schedule(timedelta(seconds=45))}) == 45.0
    assert schedule_seconds({"schedule": crontab(minute="*/5")}) is None  # not run in process


def test_due_entries_follow_each_interval() -> None:
    plan = {"fast": {"task": "a", "schedule": 30.0}, "slow": {"task": "b", "schedule": 3600.0}}
    assert due_entries(plan, {}, now=1000.0) == ["fast", "slow"]  # never run: both at the first tick
    last = {"fast": 1000.0, "slow": 1000.0}
    assert due_entries(plan, last, now=1029.0) == []
    assert due_entries(plan, last, now=1030.0) == ["fast"]
    assert due_entries(plan, last, now=4600.0) == ["fast", "slow"]


def test_tick_runs_every_beat_task_once_and_requeues_without_grace_when_eager() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def run(task: str, *args: Any, **kwargs: Any) -> int:
        calls.append((task, kwargs))
        return 0

    last: dict[str, float] = {}
    beat_tick(last_run=last, now=100.0, run=run)
    assert sorted(task for task, _ in calls) == sorted(e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values())
    assert dict(calls)["partners.tasks.outbox_requeue_due"] == {"grace_seconds": 0}
    assert set(last) == set(settings.CELERY_BEAT_SCHEDULE)

    calls.clear()
    beat_tick(last_run=last, now=110.0, run=run)
    assert calls == []  # nothing due 10 s later

    with override_settings(CELERY_TASK_ALWAYS_EAGER=False):  # a real broker: the usual grace applies
        beat_tick(last_run={}, now=0.0, schedule=REQUEUE, run=run)
    assert calls == [("partners.tasks.outbox_requeue_due", {})]


def test_a_failing_entry_is_logged_and_the_others_still_run() -> None:
    plan = {"bad": {"task": "x.tasks.bad", "schedule": 30.0}, "good": {"task": "x.tasks.good", "schedule": 30.0}}

    def run(task: str, **kwargs: Any) -> str:
        if task == "x.tasks.bad":
            raise RuntimeError("boom")
        return "ok"

    results = beat_tick(last_run={}, now=0.0, schedule=plan, run=run)
    assert isinstance(results["bad"], RuntimeError)
    assert results["good"] == "ok"


def test_the_thread_loop_ticks_until_stopped(mocker: Any) -> None:
    beat = InProcessBeat(tick_seconds=0)
    ticks: list[dict[str, float]] = []
    mocker.patch.object(inprocess_beat, "beat_tick", side_effect=lambda last_run: (ticks.append(last_run), beat.stop()))
    closed = mocker.patch.object(inprocess_beat.connections, "close_all")
    beat.run()  # in this thread: returns once stopped
    assert ticks == [beat.last_run]
    closed.assert_called_once()
    assert beat.daemon


# --- A failed push is retried, "Retry now" sends ------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_push_is_retried_by_the_tick(
    receiver: FakePartner, clock: Clock, django_capture_on_commit_callbacks: Any
) -> None:
    partner = partner_for(receiver)
    receiver.fail(503)  # the partner is down when the location is made
    _create_location(django_capture_on_commit_callbacks)
    delivery = OutboxDelivery.objects.get(partner=partner, module="locations")
    assert (delivery.state, delivery.attempts) == (OutboxState.PENDING, 1)

    receiver.heal()
    assert beat_tick(last_run={}, now=0.0, schedule=REQUEUE)["outbox-requeue-due"] == 0  # retry not due yet
    delivery.refresh_from_db()
    assert delivery.state == OutboxState.PENDING

    clock.to(delivery.next_attempt_at + timedelta(seconds=1))
    assert beat_tick(last_run={}, now=0.0, schedule=REQUEUE)["outbox-requeue-due"] == 1
    delivery.refresh_from_db()
    assert delivery.state == OutboxState.DELIVERED
    assert [r.method for r in receiver.requests][-1] == "PUT"


@pytest.mark.django_db(transaction=True)  # real commits: the retry is sent when outbox_retry commits
def test_retry_now_sends_inline_under_eager_tasks(
    receiver: FakePartner, django_capture_on_commit_callbacks: Any
) -> None:
    partner = partner_for(receiver)
    receiver.fail(400, ocpi_status=2001)  # refused: a permanent failure
    _create_location(django_capture_on_commit_callbacks)
    delivery = OutboxDelivery.objects.get(partner=partner, module="locations")
    assert delivery.state == OutboxState.FAILED
    receiver.heal()

    admin = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(admin)
    selected = {"action": "action_retry", "_selected_action": [delivery.pk], "post": "yes"}
    page = client.post("/admin/partners/outboxdelivery/", selected, follow=True).content.decode()

    delivery.refresh_from_db()
    assert delivery.state == OutboxState.DELIVERED
    assert "1 deliveries queued again." in page
    assert "Sent now: 1 delivered." in page


# --- The switch ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "environ", "on"),
    [
        (["manage.py", "runserver", "127.0.0.1:8000"], {"RUN_MAIN": "true"}, True),  # the autoreloader's child
        (["manage.py", "runserver", "--noreload"], {}, True),
        (["manage.py", "runserver", "127.0.0.1:8000"], {}, False),  # the autoreloader's parent
        (["manage.py", "migrate"], {"RUN_MAIN": "true"}, False),
        (["celery", "-A", "ocpi_platform", "worker"], {}, False),
        (["gunicorn", "ocpi_platform.wsgi"], {}, False),
    ],
)
def test_only_the_runserver_process_starts_it(argv: list[str], environ: dict[str, str], on: bool) -> None:
    with override_settings(OCPI_INPROCESS_BEAT=True):
        assert should_start(argv, environ) is on
    with override_settings(OCPI_INPROCESS_BEAT=False):
        assert should_start(argv, environ) is False


def test_start_if_enabled_starts_one_thread(mocker: Any) -> None:
    mocker.patch.object(inprocess_beat, "_started", None)
    start = mocker.patch.object(InProcessBeat, "start")
    runserver = (["manage.py", "runserver", "--noreload"], {})
    with override_settings(OCPI_INPROCESS_BEAT=True):
        assert inprocess_beat.start_if_enabled(*runserver) is True
        assert inprocess_beat.start_if_enabled(*runserver) is True
    start.assert_called_once()
    with override_settings(OCPI_INPROCESS_BEAT=False):
        assert inprocess_beat.start_if_enabled(*runserver) is False


def _setting(module: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "REDIS_URL", "OCPI_INPROCESS"))}
    clean.update(DJANGO_SECRET_KEY="x", DATABASE_URL="sqlite:///:memory:", **env)
    code = f"import {module} as s; print(s.OCPI_INPROCESS_BEAT)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_settings_switch() -> None:
    assert settings.OCPI_INPROCESS_BEAT is False  # test settings: never a thread
    assert _setting("ocpi_platform.settings.dev") == "True"  # `make run`: eager tasks, no worker
    assert _setting("ocpi_platform.settings.dev", REDIS_URL="redis://127.0.0.1:6379/0") == "False"  # worker + beat
    assert _setting("ocpi_platform.settings.dev", OCPI_INPROCESS_BEAT="0") == "False"
    assert _setting("ocpi_platform.settings.base") == "False"  # production
    assert _setting("ocpi_platform.settings.test") == "False"
