"""The partners app's Hub tests (ClientInfo, routing through a Hub, admin) on the fake Hub of tests/fake_hub.py."""

from tests.fake_hub import _our_parties, emsp_a, emsp_b, fake_hub, hub  # noqa: F401 - fixtures
