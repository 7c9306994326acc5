"""The task dispatch port (ocpi_platform/dispatch.py): services queue tasks by name, after commit."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import NotRegistered
from django.conf import settings
from django.db import transaction

from ocpi_platform.celery import app
from ocpi_platform.dispatch import enqueue, enqueue_on_commit

ROOT = Path(__file__).resolve().parents[2]
APPS = ["ocpi_platform", "partners", "locations", "tariffs", "tokens", "sessions", "cdrs", "chargepoints", "backoffice"]
PROBE = "tests.ocpi.test_dispatch.probe"
calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []


@app.task(name=PROBE)
def probe(*args: Any, **kwargs: Any) -> str:
    calls.append((args, kwargs))
    return "ran"


@pytest.fixture(autouse=True)
def _no_calls() -> None:
    calls.clear()


def test_enqueue_runs_the_named_task_inline_in_eager_mode() -> None:
    assert settings.CELERY_TASK_ALWAYS_EAGER
    result = enqueue(PROBE, 7, delivery_id=3)
    assert result.get() == "ran"
    assert calls == [((7,), {"delivery_id": 3})]


def test_enqueue_passes_the_countdown_to_apply_async(mocker) -> None:
    apply_async = mocker.patch.object(app.tasks[PROBE], "apply_async")
    enqueue(PROBE, partner_id=1, countdown=7)
    apply_async.assert_called_once_with(args=None, kwargs={"partner_id": 1}, countdown=7)


def test_enqueue_refuses_an_unknown_name() -> None:
    with pytest.raises(NotRegistered):
        enqueue("partners.tasks.no_such_task")


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_waits_for_the_commit_and_drops_on_rollback() -> None:
    with transaction.atomic():
        enqueue_on_commit(PROBE, command_id=1)
        assert calls == []
    assert calls == [((), {"command_id": 1})]

    with transaction.atomic():
        enqueue_on_commit(PROBE, command_id=2)
        transaction.set_rollback(True)
    assert calls == [((), {"command_id": 1})]


@pytest.mark.django_db
def test_enqueue_on_commit_robust_logs_a_queueing_failure(django_capture_on_commit_callbacks, mocker) -> None:
    mocker.patch.object(app.tasks[PROBE], "apply_async", side_effect=OSError("broker down"))
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(PROBE, robust=True, command_id=1)  # a failing robust callback does not raise
    with pytest.raises(OSError, match="broker down"), django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(PROBE, command_id=1)


def _enqueued_names() -> set[str]:
    """Every task name the application code passes to enqueue/enqueue_on_commit as a literal."""
    names = set()
    for app_name in APPS:
        for path in (ROOT / app_name).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in {"enqueue", "enqueue_on_commit"}
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    names.add(node.args[0].value)
    return names


def test_every_enqueued_name_is_a_registered_task() -> None:
    names = _enqueued_names()
    assert "partners.tasks.outbox_drain" in names  # the outbox queues per-partner drains
    assert "sessions.tasks.command_execute" in names
    app.autodiscover_tasks(force=True)
    assert sorted(name for name in names if name not in app.tasks) == []


def test_a_fresh_process_finds_tasks_whose_module_nothing_imported() -> None:
    """A web process imports no sessions.tasks (only the admin imports partners.tasks); the first enqueue
    discovers the tasks modules (the worker does so at start)."""
    script = (
        "import sys, django; django.setup()\n"
        "from ocpi_platform import dispatch\n"
        "assert 'sessions.tasks' not in sys.modules\n"
        "task = dispatch._task('sessions.tasks.command_execute')\n"
        "print(task.name, 'sessions.tasks' in sys.modules)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ocpi_platform.settings.test"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["sessions.tasks.command_execute", "True"]
