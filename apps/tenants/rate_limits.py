"""Which rate-limit buckets a request draws from, and how big they are.

Each route class (query, ingest, admin) has two buckets per request: the caller's (an API key, or
the user for sessions, JWTs, the portal's socket and form) and the whole tenant's. Every way to ask
a question draws from the `query` class, so a user's API calls, socket questions and form posts
share one budget, and the tenant's bucket caps them all together. The caller's bucket comes from
the key's own quota, else the tenant's settings (TenantSettings.rate_limits), else
settings.API_RATE_LIMITS; the tenant-wide bucket is the platform's (settings only), so a tenant
cannot lift the ceiling that protects everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from apps.core.ratelimit import Bucket, BucketSpec

from .selectors import tenant_settings_get

QUESTIONS = "query"


@dataclass(frozen=True)
class RoutePolicy:
    buckets: list[Bucket]
    fail_open: bool


def user_rate_principal(*, schema_name: str, user_id: int) -> str:
    return f"user:{schema_name}:{user_id}"


def principal_quota(*, route_class: str, schema_name: str, key_quota: dict[str, Any] | None = None) -> dict[str, Any]:
    """One credential's own quota on a route class: its key's, else the tenant's, else the default."""
    configured: dict[str, Any] = settings.API_RATE_LIMITS[route_class]
    tenant_override = tenant_settings_get(schema_name=schema_name).rate_limits.get(route_class)
    return dict((key_quota or {}).get(route_class) or tenant_override or configured["principal"])


def tenant_quota(route_class: str) -> dict[str, Any]:
    """The whole tenant's bucket on a route class (the platform's setting): no one key needs more."""
    return dict(settings.API_RATE_LIMITS[route_class]["tenant"])


def route_policy(
    *, route_class: str, schema_name: str, rate_principal: str, key_quota: dict[str, Any] | None = None
) -> RoutePolicy:
    configured: dict[str, Any] = settings.API_RATE_LIMITS[route_class]
    principal = principal_quota(route_class=route_class, schema_name=schema_name, key_quota=key_quota)
    return RoutePolicy(
        buckets=[
            Bucket(key=f"{route_class}:{rate_principal}", spec=_spec(principal)),
            Bucket(key=f"{route_class}:tenant:{schema_name}", spec=_spec(configured["tenant"])),
        ],
        fail_open=bool(configured["fail_open"]),
    )


def _spec(raw: dict[str, Any]) -> BucketSpec:
    return BucketSpec(capacity=int(raw["capacity"]), refill_per_second=float(raw["refill_per_second"]))
