"""Scheduled retention (Celery beat, daily: config/settings/base.py CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task
from django_tenants.utils import get_public_schema_name

from apps.tenants.context import runs_in_tenant
from apps.tenants.models import Tenant

from .privacy.retention import expired_data_purge


@shared_task(name="apps.feedback.tasks.purge_expired_all_tenants")
def purge_expired_all_tenants() -> int:
    """Fan out: one task per active tenant, so one tenant's failure never stops the others."""
    schemas = list(
        Tenant.objects.filter(is_active=True)
        .exclude(schema_name=get_public_schema_name())
        .values_list("schema_name", flat=True)
    )
    for schema_name in schemas:
        purge_expired_for_tenant.delay(schema_name=schema_name)
    return len(schemas)


@shared_task(name="apps.feedback.tasks.purge_expired_for_tenant")
@runs_in_tenant
def purge_expired_for_tenant(*, schema_name: str) -> dict:
    report = expired_data_purge()
    return {"schema_name": schema_name, "purged": report.total}
