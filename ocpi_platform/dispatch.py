"""Task dispatch port: services queue a Celery task by its registered name and never import a tasks module.

Tasks modules are an edge like the API (STYLE.md 2, 4): they import the services they wrap at module level, so
the import graph has no cycle through them (the `tasks-edge` contract in pyproject.toml [tool.importlinter]).
The task is looked up in the Celery app's registry and called with apply_async, which runs it inline when
CELERY_TASK_ALWAYS_EAGER is set (tests, `make run`); send_task would publish to the broker in every mode.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from ocpi_platform.celery import app


def _task(name: str) -> Any:
    """The registered task called `name` (`<app>.tasks.<function>`); the tasks modules are imported on the first
    miss (the worker imports them at start, a web process only when it first queues)."""
    if name not in app.tasks:
        app.autodiscover_tasks(force=True)  # imports every installed app's tasks module, no system checks
    return app.tasks[name]  # celery.exceptions.NotRegistered for an unknown name


def enqueue(name: str, /, *args: Any, countdown: float | None = None, **kwargs: Any) -> Any:
    """Queue task `name` now with JSON arguments (ids, never model instances); returns its AsyncResult.

    Task arguments may not be called `countdown` (the delay in seconds before a worker may run it).
    """
    return _task(name).apply_async(args=args or None, kwargs=kwargs, countdown=countdown)


def enqueue_on_commit(
    name: str, /, *args: Any, countdown: float | None = None, robust: bool = False, **kwargs: Any
) -> None:
    """Queue task `name` once the current transaction commits (never for a rolled-back write, STYLE.md 4).

    robust: a failure to queue (broker down) is logged by Django instead of raised from the commit; the row the
    task works on must then be picked up again by a beat task. Task arguments may not be called `countdown` or
    `robust`.
    """
    transaction.on_commit(lambda: enqueue(name, *args, countdown=countdown, **kwargs), robust=robust)
