"""Reads of tenant-level data that lives in the public schema."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import IntegrityError, transaction
from django_tenants.utils import get_public_schema_name

from apps.core.errors import TenantContextRequired
from apps.core.process_cache import process_cache_get

from .context import tenant_for_schema
from .models import Domain, Tenant, TenantSettings


def active_tenant_for_hostname(hostname: str) -> Tenant | None:
    """The active tenant (the platform's public one included) serving `hostname`, or None when the
    host is unknown or its tenant inactive. A copy per call: django-tenants sets attributes on it."""
    found = process_cache_get("tenant-by-host", hostname, lambda: _active_tenant_for_hostname_read(hostname))
    return copy.copy(found) if found is not None else None


def _active_tenant_for_hostname_read(hostname: str) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(domain=hostname, tenant__is_active=True).first()
    return domain.tenant if domain is not None else None


# Settings already read in this request or answer, by schema name (see tenant_settings_memo).
_settings_memo: ContextVar[dict[str, TenantSettings] | None] = ContextVar("tenant_settings_memo", default=None)


@contextmanager
def tenant_settings_memo() -> Iterator[None]:
    """Read each tenant's settings at most once inside this block (one request, one answer).

    A question reads them in the rate limiter, the PII policy, the model router and the response
    cache key; one read is enough and was a sixth of the API's time per request. Re-entrant: an
    inner block shares the outer memo. tenant_settings_update forgets the entry it changes.
    """
    if _settings_memo.get() is not None:
        yield
        return
    token = _settings_memo.set({})
    try:
        yield
    finally:
        _settings_memo.reset(token)


def tenant_settings_forget(schema_name: str) -> None:
    memo = _settings_memo.get()
    if memo is not None:
        memo.pop(schema_name, None)


def tenant_settings_get(*, schema_name: str) -> TenantSettings:
    """The settings of the active tenant `schema_name`, created with defaults on first read.

    Fails closed: the public schema, unknown and inactive tenants raise TenantContextRequired.
    Public tables are reachable from every tenant's search_path, so this works inside or outside
    a tenant context and in any thread.
    """
    if not schema_name or schema_name == get_public_schema_name():
        raise TenantContextRequired("tenant settings need a tenant schema name")
    memo = _settings_memo.get()
    if memo is not None and schema_name in memo:
        return memo[schema_name]
    # Shared with other requests of this process: callers read it, tenant_settings_update writes a fresh row.
    found = process_cache_get("tenant-settings", schema_name, lambda: _tenant_settings_read(schema_name))
    if memo is not None:
        memo[schema_name] = found
    return found


def _tenant_settings_read(schema_name: str) -> TenantSettings:
    found = (
        TenantSettings.objects.select_related("tenant")
        .filter(tenant__schema_name=schema_name, tenant__is_active=True)
        .first()
    )
    if found is not None:
        return found
    tenant = tenant_for_schema(schema_name)
    try:
        # A savepoint, so a concurrent first read losing the race does not break the caller's transaction.
        with transaction.atomic():
            return TenantSettings.objects.create(tenant=tenant)
    except IntegrityError:
        return TenantSettings.objects.select_related("tenant").get(tenant=tenant)
