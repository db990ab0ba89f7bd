"""Scheduled retention (Celery beat, daily: CELERY_BEAT_SCHEDULE in config/settings/parts/processes.py).

The task names are the ones they had in apps.feedback: the beat schedule and messages already queued
in the broker name them, so they stay when the code moves.
"""

from __future__ import annotations

from celery import shared_task

from apps.tenants.context import runs_in_tenant
from apps.tenants.fan_out import tenants_fan_out

from .retention import expired_data_purge


@shared_task(name="apps.feedback.tasks.purge_expired_all_tenants")
def purge_expired_all_tenants() -> int:
    return tenants_fan_out(purge_expired_for_tenant)


@shared_task(name="apps.feedback.tasks.purge_expired_for_tenant")
@runs_in_tenant
def purge_expired_for_tenant(*, schema_name: str) -> dict:
    report = expired_data_purge()
    return {"schema_name": schema_name, "purged": report.total}
