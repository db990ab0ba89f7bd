"""Per-tenant daily token budgets, counted in Redis so every worker process sees the same total.

A request reserves its worst case (prompt estimate + max_tokens) before any provider is called;
if the day's total would pass the budget the reservation is undone and refused. After the answer
the reservation is settled to the real usage. Reserving (rather than checking, then counting)
keeps concurrent requests from all passing the same check and overshooting together.

Keys carry the UTC date and expire after two days, so a new day starts at zero with no cleanup job.
If Redis is unreachable the budget is not enforced (logged): answers keep working, as they do
without the cache; the provider's own quota still applies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.utils import timezone
from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import RedisError

from apps.integrations.llm.base import GenerationRequest

logger = logging.getLogger(__name__)

KEY_TTL_SECONDS = 2 * 24 * 3600
CHARS_PER_TOKEN = 4  # a deliberately rough estimate; real usage replaces it after the call


def estimated_input_tokens(request: GenerationRequest) -> int:
    return (len(request.system) + len(request.prompt)) // CHARS_PER_TOKEN + 1


def budget_key(*, tenant_schema: str, day: str | None = None) -> str:
    return f"portal:llm_tokens:{tenant_schema}:{day or timezone.now().date().isoformat()}"


@dataclass(frozen=True)
class TokenReservation:
    key: str  # empty: nothing was counted (no budget, or Redis unavailable)
    tokens: int

    @classmethod
    def unlimited(cls) -> TokenReservation:
        return cls(key="", tokens=0)


class TokenBudget:
    def __init__(self, *, connection_alias: str = "default") -> None:
        self.connection_alias = connection_alias

    def _redis(self) -> Redis:
        return get_redis_connection(self.connection_alias)

    def used_today(self, *, tenant_schema: str) -> int:
        return int(self._redis().get(budget_key(tenant_schema=tenant_schema)) or 0)

    def reserve(self, *, tenant_schema: str, tokens: int, limit: int) -> TokenReservation | None:
        key = budget_key(tenant_schema=tenant_schema)
        try:
            redis = self._redis()
            pipeline = redis.pipeline()
            pipeline.incrby(key, tokens)
            pipeline.expire(key, KEY_TTL_SECONDS)
            total, _ = pipeline.execute()
            if total > limit:
                redis.decrby(key, tokens)
                return None
        except RedisError:
            logger.warning("token budget not enforced: Redis unavailable", extra={"tenant_schema": tenant_schema})
            return TokenReservation.unlimited()
        return TokenReservation(key=key, tokens=tokens)

    def settle(self, reservation: TokenReservation, *, used_tokens: int) -> None:
        """Replace the reserved estimate by the real usage (on the reservation's day, even past midnight)."""
        if not reservation.key or used_tokens == reservation.tokens:
            return
        try:
            self._redis().incrby(reservation.key, used_tokens - reservation.tokens)
        except RedisError:
            logger.warning("token usage not counted: Redis unavailable")
