"""Fixtures of the multi-party tests: the outbox clock and in-process worker, and the sessions pacing hook."""

from tests.fake_hub import moving  # noqa: F401 - fixture
from tests.outbox.conftest import clock, runner  # noqa: F401 - fixtures
