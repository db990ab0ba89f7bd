"""Stream slots on the real Redis: limits per user and per tenant, leases that lapse, renewals."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from django.conf import settings

from apps.core.stream_slots import SlotLimits, SlotVerdict, StreamSlots

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def slots(*, per_user: int = 2, per_tenant: int = 3, lease_seconds: float = 30.0) -> StreamSlots:
    limits = SlotLimits(per_user=per_user, per_tenant=per_tenant, lease_seconds=lease_seconds)
    return StreamSlots(redis_url=settings.REDIS_URL, limits=limits)


def tenant_name() -> str:
    return f"slots_{uuid.uuid4().hex[:8]}"  # a fresh tenant per test: no state shared through Redis


async def test_user_and_tenant_limits_are_enforced_and_release_frees_a_slot():
    tenant, pool = tenant_name(), slots(per_user=2, per_tenant=3)
    try:
        assert await pool.acquire(tenant=tenant, user_id=1, stream_id="a") is SlotVerdict.GRANTED
        assert await pool.acquire(tenant=tenant, user_id=1, stream_id="b") is SlotVerdict.GRANTED
        assert await pool.acquire(tenant=tenant, user_id=1, stream_id="c") is SlotVerdict.USER_FULL
        assert await pool.acquire(tenant=tenant, user_id=2, stream_id="d") is SlotVerdict.GRANTED
        assert await pool.acquire(tenant=tenant, user_id=3, stream_id="e") is SlotVerdict.TENANT_FULL
        assert await pool.in_use(tenant=tenant) == 3
        assert await pool.in_use(tenant=tenant, user_id=1) == 2

        await pool.release(tenant=tenant, user_id=1, stream_id="a")
        assert await pool.acquire(tenant=tenant, user_id=3, stream_id="e") is SlotVerdict.GRANTED
        # Another tenant has its own limit.
        assert await pool.acquire(tenant=tenant_name(), user_id=1, stream_id="x") is SlotVerdict.GRANTED
    finally:
        await pool.close()


async def test_a_dead_workers_slots_lapse_after_one_lease():
    """A worker that dies never releases: its lease expires and the slot comes back."""
    tenant = tenant_name()
    dead, alive = slots(per_user=1, per_tenant=1, lease_seconds=0.3), slots(per_user=1, per_tenant=1, lease_seconds=0.3)
    try:
        assert await dead.acquire(tenant=tenant, user_id=1, stream_id="dead") is SlotVerdict.GRANTED
        await dead.close()  # gone, without releasing
        assert await alive.acquire(tenant=tenant, user_id=1, stream_id="new") is SlotVerdict.USER_FULL
        await asyncio.sleep(0.4)
        assert await alive.acquire(tenant=tenant, user_id=1, stream_id="new") is SlotVerdict.GRANTED
        # A lapsed lease is not resurrected by a late renewal.
        assert await alive.renew(tenant=tenant, user_id=1, stream_id="dead") is False
    finally:
        await alive.close()


async def test_renewing_keeps_a_long_stream_inside_the_limit():
    tenant, pool = tenant_name(), slots(per_user=1, per_tenant=5, lease_seconds=0.3)
    try:
        assert await pool.acquire(tenant=tenant, user_id=1, stream_id="long") is SlotVerdict.GRANTED
        for _ in range(4):  # 0.6 s in all: twice the lease
            await asyncio.sleep(0.15)
            assert await pool.renew(tenant=tenant, user_id=1, stream_id="long") is True
        assert await pool.acquire(tenant=tenant, user_id=1, stream_id="second") is SlotVerdict.USER_FULL
    finally:
        await pool.close()
