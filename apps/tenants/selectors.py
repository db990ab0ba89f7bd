"""Reads of tenant-level data that lives in the public schema."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django_tenants.utils import get_public_schema_name

from apps.core.errors import TenantContextRequired

from .context import tenant_for_schema
from .models import TenantSettings


def tenant_settings_get(*, schema_name: str) -> TenantSettings:
    """The settings of the active tenant `schema_name`, created with defaults on first read.

    Fails closed: the public schema, unknown and inactive tenants raise TenantContextRequired.
    Public tables are reachable from every tenant's search_path, so this works inside or outside
    a tenant context and in any thread.
    """
    if not schema_name or schema_name == get_public_schema_name():
        raise TenantContextRequired("tenant settings need a tenant schema name")
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
