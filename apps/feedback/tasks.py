"""Scheduled retention (Celery beat, daily: config/settings/base.py CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from apps.tenants.context import runs_in_tenant
from apps.tenants.selectors import active_tenant_schemas

from .privacy.retention import expired_data_purge


@shared_task(name="apps.feedback.tasks.purge_expired_all_tenants")
def purge_expired_all_tenants() -> int:
    """Fan out: one task per active tenant, so one tenant's failure never stops the others."""
    schemas = active_tenant_schemas()
    for schema_name in schemas:
        purge_expired_for_tenant.delay(schema_name=schema_name)
    return len(schemas)


@shared_task(name="apps.feedback.tasks.purge_expired_for_tenant")
@runs_in_tenant
def purge_expired_for_tenant(*, schema_name: str) -> dict:
    report = expired_data_purge()
    return {"schema_name": schema_name, "purged": report.total}
