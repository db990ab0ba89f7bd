"""Scheduled work that runs in every tenant: one task per active tenant, so one tenant's failure or
slowness never holds up the others."""

from __future__ import annotations

from typing import Any

from .selectors import active_tenant_schemas


def tenants_fan_out(task: Any) -> int:
    """Send `task` (a Celery task taking `schema_name=`) once per active tenant; how many were sent.
    A tenant being moved to another shard (writes frozen) is left for the next round."""
    schemas = active_tenant_schemas(include_frozen=False)
    for schema_name in schemas:
        task.delay(schema_name=schema_name)
    return len(schemas)
