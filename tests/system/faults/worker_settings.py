"""Settings of the fault suite's Celery worker subprocess: the test settings, plus the outbox knobs that
ocpi_platform/settings/base.py does not read from the environment (lease margin, requeue grace, ...), so a
test can shorten them for the worker through its environment (tests/system/faults/conftest.py FAULT_SETTINGS)."""

from ocpi_platform.settings.test import *  # noqa: F403
from ocpi_platform.settings.test import env

OCPI_OUTBOX_LEASE_MARGIN_SECONDS = env.float("OCPI_OUTBOX_LEASE_MARGIN_SECONDS", default=10.0)
OCPI_OUTBOX_MAX_COUNTDOWN_SECONDS = env.float("OCPI_OUTBOX_MAX_COUNTDOWN_SECONDS", default=300.0)
OCPI_OUTBOX_REQUEUE_GRACE_SECONDS = env.float("OCPI_OUTBOX_REQUEUE_GRACE_SECONDS", default=120.0)
OCPI_OUTBOX_REQUEUE_BATCH = env.int("OCPI_OUTBOX_REQUEUE_BATCH", default=200)
