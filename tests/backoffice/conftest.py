"""The dashboard tests count a Hub's outbox rows and ClientInfo: they reuse the Hub fixtures of tests/hubs."""

from tests.hubs.conftest import _our_parties, emsp_a, emsp_b, fake_hub, hub  # noqa: F401 - hub fixtures
