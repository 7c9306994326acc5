"""The dashboard tests count a Hub's outbox rows and ClientInfo: they reuse the Hub fixtures of tests/fake_hub.py."""

from tests.fake_hub import _our_parties, emsp_a, emsp_b, fake_hub, hub  # noqa: F401 - hub fixtures
