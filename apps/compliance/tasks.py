"""Scheduled retention and backups (Celery beat, daily: CELERY_BEAT_SCHEDULE in
config/settings/parts/processes.py).

The task names are the ones they had in apps.feedback: the beat schedule and messages already queued
in the broker name them, so they stay when the code moves.
"""

from __future__ import annotations

from celery import shared_task

from apps.tenants.context import runs_in_tenant
from apps.tenants.fan_out import tenants_fan_out
from apps.tenants.selectors import tenant_settings_get

from .retention import expired_data_purge
from .tenant_backups import tenant_backup_create, tenant_backups_prune


@shared_task(name="apps.feedback.tasks.purge_expired_all_tenants")
def purge_expired_all_tenants() -> int:
    return tenants_fan_out(purge_expired_for_tenant)


@shared_task(name="apps.feedback.tasks.purge_expired_for_tenant")
@runs_in_tenant
def purge_expired_for_tenant(*, schema_name: str) -> dict:
    report = expired_data_purge()
    return {"schema_name": schema_name, "purged": report.total}


@shared_task(name="apps.compliance.tasks.backup_all_tenants")
def backup_all_tenants() -> int:
    return tenants_fan_out(backup_tenant)


@shared_task(name="apps.compliance.tasks.backup_tenant")
def backup_tenant(*, schema_name: str) -> dict:
    """Back up one tenant, then delete its backups past its `backup_retention_days` (never the newest)."""
    backup = tenant_backup_create(schema_name=schema_name)
    keep_days = tenant_settings_get(schema_name=schema_name).backup_retention_days
    pruned = tenant_backups_prune(schema_name=schema_name, keep_days=keep_days)
    return {"schema_name": schema_name, "backup": backup.name, "size": backup.size, "pruned": pruned}
