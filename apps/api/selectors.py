"""Reads of the API key registry."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.accounts.models import User
from apps.core.process_cache import process_cache_get
from apps.ingestion.models import IngestionJob
from apps.tenants.models import Tenant

from .models import ApiKey
from .permissions import user_is_tenant_admin


def api_keys_for_tenant(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).order_by("-created_at", "-pk")


def api_key_for_tenant(*, tenant: Tenant, key_id: int) -> ApiKey:
    """Raises ApiKey.DoesNotExist for another tenant's key, exactly as for a missing one."""
    return api_keys_for_tenant(tenant=tenant).get(pk=key_id)


def api_key_by_prefix(*, prefix: str) -> ApiKey | None:
    """The key with its tenant. Shared with this process's other requests (apps.core.process_cache):
    read it, do not change it (api_key_mark_used's last-used time is the one harmless exception)."""
    return process_cache_get(
        "api-key", prefix, lambda: ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
    )


def ingestion_job_for_user(*, user: User, job_id: uuid.UUID | str) -> IngestionJob:
    """The caller's own job (any job for tenant administrators); DoesNotExist otherwise (a 404)."""
    jobs = IngestionJob.objects.all()
    if not user_is_tenant_admin(user):
        jobs = jobs.filter(created_by=user)
    return jobs.get(pk=job_id)
