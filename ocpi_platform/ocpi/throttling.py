"""Per-partner rate limit: a token bucket per credentials token's partner, kept in the Django cache.

Each partner may send `OCPI_RATE_LIMIT_PER_SECOND` requests per second on average and up to
`OCPI_RATE_LIMIT_BURST` at once; the next one is answered HTTP 429 with the envelope and `Retry-After`.
Buckets are keyed on the partner id, so one partner hammering us never costs another partner anything.
`OCPI_RATE_LIMIT_PER_SECOND = 0` switches the limit off.

With Redis (settings.CACHES uses django's RedisCache when REDIS_URL is set) a bucket is updated by one Lua
script, atomic across all web processes. Any other cache (LocMemCache in dev) is updated under a process lock:
exact within one process, which is all a LocMemCache is shared by.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

CACHE_KEY = "ocpi:ratelimit:partner:{}"

# KEYS[1] bucket; ARGV rate, burst, now (seconds, float). Returns the wait in milliseconds (0 = admitted).
_REDIS_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
"""

_local_lock = threading.Lock()


def _bucket_ttl(rate: float, burst: float) -> int:
    """A bucket untouched for this long is full again: it can be forgotten."""
    return math.ceil(burst / rate) + 1


def _take_redis(key: str, rate: float, burst: float, now: float) -> float:
    backend: Any = cache
    full_key = backend.make_and_validate_key(key)
    client = backend._cache.get_client(full_key, write=True)
    wait_ms = client.eval(_REDIS_TAKE, 1, full_key, repr(rate), repr(burst), repr(now))
    return int(wait_ms) / 1000.0


def _take_local(key: str, rate: float, burst: float, now: float) -> float:
    with _local_lock:
        tokens, at = cache.get(key) or (burst, now)
        if now > at:
            tokens, at = min(burst, tokens + (now - at) * rate), now
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        cache.set(key, (tokens, at), _bucket_ttl(rate, burst))
        return wait


def _uses_redis() -> bool:
    return cache.__class__.__module__ == "django.core.cache.backends.redis"


def rate_limit_take(*, key: str, rate: float, burst: float, now: float | None = None) -> float:
    """Take one token from the bucket `key`: 0.0 if the request may go on, else the seconds until it may."""
    now = time.time() if now is None else now
    burst = max(1.0, float(burst))
    if _uses_redis():
        return _take_redis(key, float(rate), burst, now)
    return _take_local(key, float(rate), burst, now)


def partner_rate_limit_key(partner_pk: Any) -> str:
    return CACHE_KEY.format(partner_pk)


class OcpiPartnerRateThrottle(BaseThrottle):
    """DRF throttle of every OcpiView: per-partner token bucket (runs after authentication)."""

    def __init__(self) -> None:
        self.wait_seconds: float = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = float(settings.OCPI_RATE_LIMIT_PER_SECOND or 0)
        partner_pk = getattr(getattr(request.auth, "partner", None), "pk", None)
        if rate <= 0 or partner_pk is None:
            return True
        burst = float(settings.OCPI_RATE_LIMIT_BURST or rate)
        self.wait_seconds = rate_limit_take(key=partner_rate_limit_key(partner_pk), rate=rate, burst=burst)
        return self.wait_seconds <= 0

    def wait(self) -> float | None:
        return self.wait_seconds or None


def rate_limit_message(wait: float | None) -> str:
    rate = settings.OCPI_RATE_LIMIT_PER_SECOND
    burst = settings.OCPI_RATE_LIMIT_BURST or rate
    seconds = max(1, math.ceil(wait or 0))
    return (
        f"Rate limit exceeded: at most {rate:g} requests per second (bursts of {burst:g}) per credentials token; "
        f"retry after {seconds} s"
    )
