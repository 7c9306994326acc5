"""End-to-end flows through a Hub (pushes, commands, NSP/NAP/SCSP partners): the fake Hub of tests/fake_hub.py, the
outbox clock and in-process worker of tests/outbox."""

from tests.fake_hub import _our_parties, emsp_a, emsp_b, fake_hub, hub, moving  # noqa: F401 - fixtures
from tests.outbox.conftest import clock, runner  # noqa: F401 - fixtures
