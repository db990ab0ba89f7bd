"""Stream slots: how many answer streams a user and a tenant may run at once (roadmap 5.2).

A slot is a lease, not a counter: each running stream is a member of two Redis sorted sets (one
for its user, one for its tenant) scored by the time its lease expires. A running stream renews
its lease; anything past its expiry is dropped before counting. A daphne worker that dies without
releasing therefore gives its slots back after one lease, where a plain INCR/DECR counter would
leak them for ever. Redis's own clock decides expiry, so workers with skewed clocks agree.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Self

import redis
import redis.asyncio as aioredis
from django.conf import settings

# KEYS: tenant set, user set. ARGV: lease ms, stream id, tenant limit, user limit.
# Returns 0 (granted), 1 (tenant full) or 2 (user full).
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local lease_ms = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now_ms)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 1 end
redis.call('ZADD', KEYS[1], now_ms + lease_ms, ARGV[2])
redis.call('ZADD', KEYS[2], now_ms + lease_ms, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease_ms * 2)
redis.call('PEXPIRE', KEYS[2], lease_ms * 2)
return 0
"""

# Renew only a live lease: a lapsed one is not resurrected behind the limit's back.
_RENEW = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
local lease_ms = tonumber(ARGV[1])
local expires = redis.call('ZSCORE', KEYS[1], ARGV[2])
if (not expires) or tonumber(expires) <= now_ms then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now_ms + lease_ms, ARGV[2])
redis.call('ZADD', KEYS[2], 'XX', now_ms + lease_ms, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease_ms * 2)
redis.call('PEXPIRE', KEYS[2], lease_ms * 2)
return 1
"""

_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


class SlotVerdict(enum.Enum):
    GRANTED = 0
    TENANT_FULL = 1
    USER_FULL = 2


@dataclass(frozen=True)
class SlotLimits:
    per_user: int
    per_tenant: int
    lease_seconds: float

    @classmethod
    def from_settings(cls) -> SlotLimits:
        return cls(
            per_user=settings.PORTAL_STREAMS_PER_USER,
            per_tenant=settings.PORTAL_STREAMS_PER_TENANT,
            lease_seconds=settings.PORTAL_STREAM_LEASE_SECONDS,
        )


def lease_ms(limits: SlotLimits) -> int:
    return max(1, int(limits.lease_seconds * 1000))


def slot_keys(*, tenant: str, user_id: int) -> tuple[str, str]:
    # One hash tag per tenant: both keys live on the same Redis Cluster slot, as the scripts need.
    return f"portal:streams:{{{tenant}}}:tenant", f"portal:streams:{{{tenant}}}:user:{user_id}"


class _LeaseStore:
    """The Redis client, scripts and limits shared by the asynchronous and the synchronous slot stores.

    Every call is one registered script (EVALSHA: the script's digest, not its text, on the wire), so
    a stream's acquire and release are one round trip each. Under fifty concurrent streams the text
    sent with every EVAL and the MULTI/EXEC pipeline of the release were an eighth of a web worker's
    time holding the GIL (py-spy, docs/portal.md).
    """

    client_class: Any  # redis.asyncio.Redis or redis.Redis

    def __init__(self, *, redis_url: str, limits: SlotLimits) -> None:
        self.limits = limits
        self._redis = self.client_class.from_url(
            redis_url,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        )
        self._acquire_script = self._redis.register_script(_ACQUIRE)
        self._renew_script = self._redis.register_script(_RENEW)
        self._release_script = self._redis.register_script(_RELEASE)

    @classmethod
    def from_settings(cls) -> Self:
        return cls(redis_url=settings.PORTAL_STREAM_SLOTS_REDIS_URL, limits=SlotLimits.from_settings())

    def _acquire_call(self, *, tenant: str, user_id: int, stream_id: str) -> dict[str, list]:
        """The acquire script's keys and arguments (both stores run the same scripts)."""
        limits = self.limits
        return {
            "keys": list(slot_keys(tenant=tenant, user_id=user_id)),
            "args": [lease_ms(limits), stream_id, limits.per_tenant, limits.per_user],
        }

    def _renew_call(self, *, tenant: str, user_id: int, stream_id: str) -> dict[str, list]:
        return {"keys": list(slot_keys(tenant=tenant, user_id=user_id)), "args": [lease_ms(self.limits), stream_id]}

    @staticmethod
    def _release_call(*, tenant: str, user_id: int, stream_id: str) -> dict[str, list]:
        return {"keys": list(slot_keys(tenant=tenant, user_id=user_id)), "args": [stream_id]}


class StreamSlots(_LeaseStore):
    """Leases for one tenant's streams. Open one per WebSocket connection; `close()` it afterwards."""

    client_class = aioredis.Redis

    async def acquire(self, *, tenant: str, user_id: int, stream_id: str) -> SlotVerdict:
        call = self._acquire_call(tenant=tenant, user_id=user_id, stream_id=stream_id)
        return SlotVerdict(int(await self._acquire_script(**call)))

    async def renew(self, *, tenant: str, user_id: int, stream_id: str) -> bool:
        """False when the lease had already lapsed (the stream then runs on borrowed time)."""
        return bool(await self._renew_script(**self._renew_call(tenant=tenant, user_id=user_id, stream_id=stream_id)))

    async def release(self, *, tenant: str, user_id: int, stream_id: str) -> None:
        await self._release_script(**self._release_call(tenant=tenant, user_id=user_id, stream_id=stream_id))

    async def in_use(self, *, tenant: str, user_id: int | None = None) -> int:
        """Live leases of the tenant (or of one of its users); for tests, metrics and the benchmark."""
        tenant_key, user_key = slot_keys(tenant=tenant, user_id=user_id or 0)
        key = user_key if user_id is not None else tenant_key
        now_seconds, now_micros = await self._redis.time()
        return int(await self._redis.zcount(key, now_seconds * 1000 + now_micros // 1000, "+inf"))

    async def close(self) -> None:
        await self._redis.aclose()


class SyncStreamSlots(_LeaseStore):
    """The same leases for synchronous code (the API's Server-Sent Events): a portal stream and an API
    stream of one user count against the same limits."""

    client_class = redis.Redis

    def acquire(self, *, tenant: str, user_id: int, stream_id: str) -> SlotVerdict:
        call = self._acquire_call(tenant=tenant, user_id=user_id, stream_id=stream_id)
        return SlotVerdict(int(self._acquire_script(**call)))

    def renew(self, *, tenant: str, user_id: int, stream_id: str) -> bool:
        return bool(self._renew_script(**self._renew_call(tenant=tenant, user_id=user_id, stream_id=stream_id)))

    def release(self, *, tenant: str, user_id: int, stream_id: str) -> None:
        self._release_script(**self._release_call(tenant=tenant, user_id=user_id, stream_id=stream_id))

    def close(self) -> None:
        self._redis.close()
