"""The portal's questions draw from the same rate-limit budget as the API's (apps/tenants/rate_limits.py):
a user's socket questions, form posts and API calls share their bucket, and the tenant's caps all."""

from __future__ import annotations

import logging
import math

from apps.accounts.models import User
from apps.core.metrics import rate_limit_fail_open_total, rate_limit_rejections_total, tenant_label
from apps.core.ratelimit import RateLimiterUnavailable, rate_limiter
from apps.tenants.rate_limits import QUESTIONS, route_policy, user_rate_principal

logger = logging.getLogger(__name__)


def question_wait_seconds(*, schema_name: str, user: User) -> int:
    """0 when the user may ask now (one question is charged), else whole seconds until they may."""
    policy = route_policy(
        route_class=QUESTIONS,
        schema_name=schema_name,
        rate_principal=user_rate_principal(schema_name=schema_name, user_id=user.pk),
    )
    try:
        decision = rate_limiter().consume(policy.buckets)
    except RateLimiterUnavailable as error:
        if not policy.fail_open:
            return 1
        logger.warning("rate limiter unavailable (%s): allowing a portal question unchecked", error)
        rate_limit_fail_open_total.labels(route_class=QUESTIONS).inc()
        return 0
    if decision.allowed:
        return 0
    rate_limit_rejections_total.labels(route_class=QUESTIONS, tenant=tenant_label(schema_name)).inc()
    return max(1, math.ceil(decision.retry_after))
