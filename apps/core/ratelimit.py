"""Rate limits: token buckets in Redis, checked and charged atomically by one Lua script for several.

Used by every way to ask a question (API, portal WebSocket, portal form) and by the other API route
classes; which buckets a request draws from is apps/tenants/rate_limits.py's concern.

All buckets of a request (the caller's and the tenant's) are charged together or not at all, so a
refused request never spends a token anywhere. The current time comes from the caller's clock, not
Redis's, so tests control refill exactly; application servers are expected to run NTP.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import redis
from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.errors import PortalError

# KEYS: one hash per bucket. ARGV: now, then capacity and refill rate per bucket.
# Returns {allowed (0/1), retry_after, tokens left per bucket...} (numbers as strings: Lua integers
# would truncate them).
BUCKET_LUA = """
local now = tonumber(ARGV[1])
local allowed = 1
local retry_after = 0
local tokens = {}
local stamps = {}
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'ts')
  local level = tonumber(state[1])
  local stamp = tonumber(state[2])
  if level == nil or stamp == nil then
    level = capacity
    stamp = now
  elseif now > stamp then
    level = math.min(capacity, level + (now - stamp) * rate)
    stamp = now
  end
  level = math.min(level, capacity)
  -- a hair of tolerance: refills summed over many small steps land just under a whole token
  if level < 1 - 1e-9 then
    allowed = 0
    retry_after = math.max(retry_after, (1 - level) / rate)
  end
  tokens[i] = level
  stamps[i] = stamp
end
local result = {allowed, tostring(retry_after)}
for i = 1, #KEYS do
  local capacity = tonumber(ARGV[2 * i])
  local rate = tonumber(ARGV[2 * i + 1])
  if allowed == 1 then
    tokens[i] = tokens[i] - 1
  end
  redis.call('HSET', KEYS[i], 'tokens', tostring(tokens[i]), 'ts', tostring(stamps[i]))
  redis.call('PEXPIRE', KEYS[i], math.ceil((capacity - tokens[i]) / rate * 1000) + 1000)
  result[#result + 1] = tostring(tokens[i])
end
return result
"""


class RateLimiterUnavailable(PortalError):
    """Redis could not be asked; the caller decides whether to fail open or closed."""


@dataclass(frozen=True)
class BucketSpec:
    capacity: int
    refill_per_second: float


@dataclass(frozen=True)
class Bucket:
    key: str
    spec: BucketSpec


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until the request would be allowed (0 when allowed)
    limit: int  # capacity of the bucket closest to empty
    remaining: int  # whole tokens left in it
    reset: float  # seconds until it is full again


@lru_cache(maxsize=8)
def _client(redis_url: str, socket_timeout: float) -> tuple[redis.Redis, object]:
    """One connection pool per URL and timeout (keyed by the settings, so override_settings works)."""
    client = redis.Redis.from_url(
        redis_url, socket_timeout=socket_timeout, socket_connect_timeout=socket_timeout, retry_on_timeout=False
    )
    return client, client.register_script(BUCKET_LUA)


class RedisTokenBucket:
    def __init__(
        self, *, redis_url: str, clock: Callable[[], float], socket_timeout: float = 0.25, key_prefix: str = "ratelimit"
    ) -> None:
        self.redis_url = redis_url
        self.clock = clock
        self.socket_timeout = socket_timeout
        self.key_prefix = key_prefix

    def consume(self, buckets: Sequence[Bucket]) -> Decision:
        """Take one token from every bucket, or from none if any is empty."""
        if not buckets:
            raise ValueError("at least one bucket is required")
        _, script = _client(self.redis_url, self.socket_timeout)
        arguments: list[float] = [self.clock()]
        for bucket in buckets:
            arguments += [bucket.spec.capacity, bucket.spec.refill_per_second]
        keys = [f"{self.key_prefix}:{bucket.key}" for bucket in buckets]
        try:
            reply = script(keys=keys, args=arguments)  # type: ignore[operator]
        except (redis.RedisError, OSError) as error:
            raise RateLimiterUnavailable(type(error).__name__) from error
        return _decision(reply, buckets)


def _decision(reply: list, buckets: Sequence[Bucket]) -> Decision:
    allowed, retry_after = int(reply[0]) == 1, float(reply[1])
    levels = [float(level) for level in reply[2:]]
    # Report the bucket with the fewest tokens left: it is the one that will refuse first.
    level, bucket = min(zip(levels, buckets, strict=True), key=lambda pair: (pair[0], pair[1].spec.capacity))
    return Decision(
        allowed=allowed,
        retry_after=retry_after if not allowed else 0.0,
        limit=bucket.spec.capacity,
        remaining=max(0, math.floor(level)),
        reset=max(0.0, (bucket.spec.capacity - level) / bucket.spec.refill_per_second),
    )


def rate_limiter() -> RedisTokenBucket:
    """The limiter settings.API_RATE_LIMITER names, built now (cheap; the Redis pool is shared)."""
    config: dict[str, Any] = settings.API_RATE_LIMITER
    backend = import_string(config["BACKEND"])
    limiter: RedisTokenBucket = backend(clock=import_string(config["CLOCK"]), **config.get("OPTIONS", {}))
    return limiter
