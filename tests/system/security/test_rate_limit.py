"""Per-partner rate limit: a burst over the limit gets 429 + Retry-After, another partner is not slowed."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from ocpi_platform.ocpi.throttling import rate_limit_take
from tests.conftest import RegisteredPartner
from tests.system.security.conftest import assert_envelope

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ratelimit-test"}}


def _redis_caches() -> dict[str, Any] | None:
    if not settings.REDIS_URL:
        return None
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": "ocpi-ratelimit-test",
        }
    }


BACKENDS = [
    pytest.param(LOCMEM, id="locmem"),
    pytest.param(
        _redis_caches(),
        id="redis",
        marks=pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (CI has Redis)"),
    ),
]


@pytest.mark.parametrize("caches", BACKENDS)
def test_bucket_admits_the_burst_then_refills_at_the_rate(caches: dict[str, Any]) -> None:
    key = f"bucket-{uuid.uuid4().hex}"
    with override_settings(CACHES=caches):
        now = 1_000_000.0
        assert [rate_limit_take(key=key, rate=2, burst=3, now=now) for _ in range(3)] == [0.0, 0.0, 0.0]
        assert rate_limit_take(key=key, rate=2, burst=3, now=now) == pytest.approx(0.5, abs=0.002)
        assert rate_limit_take(key=key, rate=2, burst=3, now=now + 0.25) == pytest.approx(0.25, abs=0.002)
        assert rate_limit_take(key=key, rate=2, burst=3, now=now + 0.5) == 0.0  # one token refilled
        assert rate_limit_take(key=key, rate=2, burst=3, now=now + 0.5) > 0
        # a long pause refills to the burst, never beyond it
        assert [rate_limit_take(key=key, rate=2, burst=3, now=now + 100) for _ in range(4)][-1] > 0
        # another key is untouched by all this
        assert rate_limit_take(key=key + "-other", rate=2, burst=3, now=now) == 0.0


@pytest.mark.parametrize("caches", BACKENDS)
def test_bucket_is_exact_under_concurrent_requests(caches: dict[str, Any]) -> None:
    """20 threads take 10 tokens each at the same instant from a bucket of 50: exactly 50 are admitted."""
    key = f"bucket-{uuid.uuid4().hex}"
    admitted: list[int] = []
    with override_settings(CACHES=caches):

        def worker() -> None:
            ok = sum(rate_limit_take(key=key, rate=0.001, burst=50, now=2_000_000.0) == 0.0 for _ in range(10))
            admitted.append(ok)

        threads = [threading.Thread(target=worker) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(admitted) == 50


@pytest.mark.django_db
@override_settings(OCPI_RATE_LIMIT_PER_SECOND=2, OCPI_RATE_LIMIT_BURST=5)
def test_burst_gets_429_with_retry_after_while_another_partner_gets_200(
    emsp_a: RegisteredPartner, emsp_b: RegisteredPartner
) -> None:
    noisy, quiet = emsp_a.client(), emsp_b.client()
    noisy_answers, quiet_answers = [], []
    for n in range(30):
        noisy_answers.append(noisy.get("/ocpi/cpo/2.2.1/locations" if n % 2 else "/ocpi/versions"))
        if n % 8 == 0:  # the quiet partner, at the same time, within its own burst
            quiet_answers.append(quiet.get("/ocpi/cpo/2.2.1/locations"))
    assert [r.status_code for r in quiet_answers] == [200] * len(quiet_answers)
    statuses = [r.status_code for r in noisy_answers]
    assert set(statuses) == {200, 429}
    assert 5 <= statuses.count(200) <= 8  # the burst, plus what refilled meanwhile at 2/s
    assert statuses[:5] == [200] * 5
    throttled = next(r for r in noisy_answers if r.status_code == 429)
    body = assert_envelope(throttled, 429, 2000)
    assert "Rate limit exceeded" in body["status_message"] and "2 requests per second" in body["status_message"]
    assert int(throttled["Retry-After"]) >= 1
    assert throttled["X-Request-ID"]  # still a proper OCPI answer (middleware headers)


@pytest.mark.django_db
@override_settings(OCPI_RATE_LIMIT_PER_SECOND=1, OCPI_RATE_LIMIT_BURST=2)
def test_limit_applies_to_every_method_and_module(emsp_a: RegisteredPartner) -> None:
    client = emsp_a.client()
    client.get("/ocpi/versions")
    client.get("/ocpi/versions")
    for response in (
        client.get("/ocpi/2.2.1/credentials"),
        client.put("/ocpi/cpo/2.2.1/tokens/DE/EMP/X", {}, format="json"),
        client.post("/ocpi/emsp/2.2.1/tokens/X/authorize", {}, format="json"),
    ):
        assert_envelope(response, 429, 2000)
        assert response["Retry-After"] == "1"


@pytest.mark.django_db
@override_settings(OCPI_RATE_LIMIT_PER_SECOND=0, OCPI_RATE_LIMIT_BURST=1)
def test_zero_switches_the_limit_off(emsp_a: RegisteredPartner) -> None:
    client = emsp_a.client()
    assert {client.get("/ocpi/versions").status_code for _ in range(20)} == {200}


def test_default_settings() -> None:
    """Production defaults from base.py (the test settings do not override them)."""
    assert settings.OCPI_RATE_LIMIT_PER_SECOND == 50
    assert settings.OCPI_RATE_LIMIT_BURST == 100
