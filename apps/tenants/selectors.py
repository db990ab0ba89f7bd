"""Reads of tenant-level data that lives in the public schema."""

from __future__ import annotations

import copy

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


def tenant_settings_get(*, schema_name: str) -> TenantSettings:
    """The settings of the active tenant `schema_name`, created with defaults on first read.

    Fails closed: the public schema, unknown and inactive tenants raise TenantContextRequired.
    Public tables are reachable from every tenant's search_path, so this works inside or outside
    a tenant context and in any thread. A question asks in the rate limiter, the PII policy, the
    model router and the response cache key: inside a process-cache scope (a request, an answer
    stream) that is one read at most, and an update in the same scope is seen.

    Shared with other requests of this process: read it; tenant_settings_update writes a fresh row.
    """
    if not schema_name or schema_name == get_public_schema_name():
        raise TenantContextRequired("tenant settings need a tenant schema name")
    return process_cache_get("tenant-settings", schema_name, lambda: _tenant_settings_read(schema_name))


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


def active_tenant_schemas(*, include_frozen: bool = True) -> list[str]:
    """Schema names of the active customer tenants (the public schema is the platform's, never one):
    what scheduled per-tenant work fans out over; without those being moved, if asked."""
    tenants = Tenant.objects.filter(is_active=True)
    if not include_frozen:
        tenants = tenants.filter(writes_frozen_at__isnull=True)
    return list(
        tenants.exclude(schema_name=get_public_schema_name())
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )
