"""Which buckets a request draws from, and how big they are.

Each route class (query, ingest, admin) has two buckets per request: the caller's (the API key,
or the user for session and JWT calls) and the whole tenant's. The caller's bucket comes from the
key's own quota, else the tenant's settings (TenantSettings.rate_limits), else
settings.API_RATE_LIMITS; the tenant-wide bucket is the platform's (settings only), so a tenant
cannot lift the ceiling that protects everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from apps.tenants.selectors import tenant_settings_get

from ..credentials import Credential
from .bucket import Bucket, BucketSpec


@dataclass(frozen=True)
class RoutePolicy:
    buckets: list[Bucket]
    fail_open: bool


def _spec(raw: dict[str, Any]) -> BucketSpec:
    return BucketSpec(capacity=int(raw["capacity"]), refill_per_second=float(raw["refill_per_second"]))


def route_policy(*, route_class: str, schema_name: str, credential: Credential) -> RoutePolicy:
    configured: dict[str, Any] = settings.API_RATE_LIMITS[route_class]
    principal = configured["principal"]
    tenant_override = tenant_settings_get(schema_name=schema_name).rate_limits.get(route_class)
    key_override = (credential.rate_limits or {}).get(route_class)
    principal = key_override or tenant_override or principal
    return RoutePolicy(
        buckets=[
            Bucket(key=f"{route_class}:{credential.rate_principal}", spec=_spec(principal)),
            Bucket(key=f"{route_class}:tenant:{schema_name}", spec=_spec(configured["tenant"])),
        ],
        fail_open=bool(configured["fail_open"]),
    )


def rate_limiter():
    """The limiter settings.API_RATE_LIMITER names, built now (cheap; the Redis pool is shared)."""
    config: dict[str, Any] = settings.API_RATE_LIMITER
    backend = import_string(config["BACKEND"])
    return backend(clock=import_string(config["CLOCK"]), **config.get("OPTIONS", {}))
