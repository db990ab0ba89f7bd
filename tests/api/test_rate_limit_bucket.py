"""The Redis token bucket itself: refill timing, atomic multi-bucket charging, isolation, Redis down."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from apps.core.ratelimit import Bucket, BucketSpec, RateLimiterUnavailable, RedisTokenBucket
from tests.support.embedded import devservices

from .clock import ManualClock

pytestmark = pytest.mark.integration


REDIS_URL: str = settings.API_RATE_LIMITER["OPTIONS"]["redis_url"]  # type: ignore[index]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limiter(clock) -> RedisTokenBucket:
    # A fresh prefix per test: nothing is shared with other tests' buckets.
    return RedisTokenBucket(redis_url=REDIS_URL, clock=clock, key_prefix=f"t{uuid.uuid4().hex}")


def bucket(name: str, capacity: int = 3, rate: float = 1.0) -> Bucket:
    return Bucket(key=name, spec=BucketSpec(capacity=capacity, refill_per_second=rate))


def test_a_full_bucket_allows_capacity_requests_then_refuses_with_the_wait(limiter):
    decisions = [limiter.consume([bucket("a", capacity=3, rate=0.5)]) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[0].limit == 3
    assert decisions[3].retry_after == pytest.approx(2.0)  # one token at 0.5 per second
    assert decisions[2].reset == pytest.approx(6.0)  # three tokens to refill


def test_tokens_come_back_at_the_refill_rate_and_never_past_capacity(limiter, clock):
    spec = bucket("a", capacity=2, rate=4.0)
    assert limiter.consume([spec]).allowed
    assert limiter.consume([spec]).allowed
    assert not limiter.consume([spec]).allowed

    clock.advance(0.2)  # 0.8 tokens: still not one
    refused = limiter.consume([spec])
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.05)

    clock.advance(0.05)  # exactly one token
    assert limiter.consume([spec]).allowed
    clock.advance(3600)
    assert limiter.consume([spec]).remaining == 1  # capped at capacity 2, minus this request


def test_a_clock_going_backwards_grants_nothing(limiter, clock):
    spec = bucket("a", capacity=1, rate=1.0)
    assert limiter.consume([spec]).allowed
    clock.advance(-100)
    assert not limiter.consume([spec]).allowed


def test_buckets_are_isolated_by_key(limiter):
    for _ in range(2):
        assert limiter.consume([bucket("key:1", capacity=2)]).allowed
    assert not limiter.consume([bucket("key:1", capacity=2)]).allowed
    assert limiter.consume([bucket("key:2", capacity=2)]).allowed


def test_several_buckets_are_charged_together_or_not_at_all(limiter):
    tenant = bucket("tenant", capacity=10)
    assert limiter.consume([bucket("key:1", capacity=1), tenant]).allowed
    refused = limiter.consume([bucket("key:1", capacity=1), tenant])
    assert not refused.allowed
    # The refused request took nothing from the tenant bucket: 10 - 1 left, minus this one.
    assert limiter.consume([bucket("key:2", capacity=100), tenant]).remaining == 8


def test_headers_describe_the_bucket_that_will_refuse_first(limiter):
    decision = limiter.consume([bucket("key:1", capacity=5), bucket("tenant", capacity=100)])
    assert (decision.limit, decision.remaining) == (5, 4)


def test_concurrent_requests_never_overspend(limiter):
    spec = bucket("hot", capacity=20, rate=0.001)
    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = sum(pool.map(lambda _: limiter.consume([spec]).allowed, range(60)))
    assert allowed == 20


def test_an_unreachable_redis_is_reported_not_hidden(clock):
    closed = RedisTokenBucket(redis_url=f"redis://127.0.0.1:{devservices.free_loopback_port()}/0", clock=clock)
    with pytest.raises(RateLimiterUnavailable):
        closed.consume([bucket("a")])
