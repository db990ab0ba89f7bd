"""The DRF throttle that charges the buckets, and the RateLimit-* headers it leaves for the response.

Redis trouble lets data-plane requests through (a warning and a metric; answering matters more than
metering), and refuses control-plane requests with 503 (their limits are a security control).
"""

from __future__ import annotations

import logging
import math

from django.db import connection
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from apps.core.metrics import rate_limit_fail_open_total, rate_limit_rejections_total, tenant_label
from apps.core.ratelimit import Decision, RateLimiterUnavailable, rate_limiter
from apps.tenants.rate_limits import route_policy

from ..credentials import Credential

logger = logging.getLogger(__name__)


class RateLimiterDown(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Rate limiting is unavailable, so this control-plane request is refused. Try again shortly."
    default_code = "rate_limiter_unavailable"


class TokenBucketThrottle(BaseThrottle):
    def allow_request(self, request: Request, view) -> bool:
        credential = request.auth
        if not isinstance(credential, Credential):
            return True  # unauthenticated requests never get this far (401 first)
        schema_name = connection.schema_name  # type: ignore[attr-defined]
        policy = route_policy(
            route_class=view.route_class,
            schema_name=schema_name,
            rate_principal=credential.rate_principal,
            key_quota=credential.rate_limits,
        )
        try:
            decision = rate_limiter().consume(policy.buckets)
        except RateLimiterUnavailable as error:
            if not policy.fail_open:
                logger.error("rate limiter unavailable (%s): refusing %s request", error, view.route_class)
                raise RateLimiterDown() from None
            logger.warning("rate limiter unavailable (%s): allowing %s request unchecked", error, view.route_class)
            rate_limit_fail_open_total.labels(route_class=view.route_class).inc()
            return True
        request._request.rate_limit_decision = decision  # type: ignore[attr-defined]
        if not decision.allowed:
            rate_limit_rejections_total.labels(route_class=view.route_class, tenant=tenant_label(schema_name)).inc()
            self._wait = decision.retry_after
            return False
        return True

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


def rate_limit_headers_add(request: Request, response: Response) -> None:
    """RateLimit-Limit/Remaining/Reset (IETF draft) on every checked response, Retry-After on 429."""
    decision: Decision | None = getattr(request._request, "rate_limit_decision", None)
    if decision is None:
        return
    response["RateLimit-Limit"] = str(decision.limit)
    response["RateLimit-Remaining"] = str(decision.remaining)
    response["RateLimit-Reset"] = str(math.ceil(decision.reset))
    if not decision.allowed:
        response["Retry-After"] = str(max(1, math.ceil(decision.retry_after)))
