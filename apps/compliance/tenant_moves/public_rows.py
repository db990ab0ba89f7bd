"""A tenant's rows in the public schema (tenant, host names, settings, data keys, API keys), copied
with the tenant: exported on the source shard, imported on the target, compared by digest."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.apps import apps
from django.core import serializers
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.tenants.models import Tenant

# Every public-schema model with a foreign key to the tenant (tests/compliance/test_tenant_moves.py
# checks that none is missing): a move that left one behind would lose it.
PUBLIC_MODELS = ("tenants.Domain", "tenants.TenantSettings", "tenants.TenantDataKey", "api.ApiKey")
# Changes while reads go on during the copy (a key's last use) and says nothing about the tenant's data.
VOLATILE_FIELDS = {"api.apikey": {"last_used_at"}}


def public_rows_export(*, schema_name: str) -> dict[str, Any]:
    tenant = Tenant.objects.get(schema_name=schema_name)
    rows: dict[str, list[dict]] = {}
    for label in PUBLIC_MODELS:
        model = apps.get_model(label)
        serialised = json.loads(serializers.serialize("json", model.objects.filter(tenant=tenant).order_by("pk")))
        for entry in serialised:
            entry.pop("pk")
            entry["fields"].pop("tenant")
        rows[label] = serialised
    return {
        "tenant": {"schema_name": tenant.schema_name, "name": tenant.name, "created_at": tenant.created_at.isoformat()},
        "rows": rows,
    }


def public_rows_digest(export: dict[str, Any]) -> str:
    """What must be equal on both shards: the export without fields that may change during reads."""
    stable = json.loads(json.dumps(export))
    for entries in stable["rows"].values():
        for entry in entries:
            for field in VOLATILE_FIELDS.get(entry["model"], ()):
                entry["fields"].pop(field, None)
    return hashlib.sha256(json.dumps(stable, sort_keys=True).encode()).hexdigest()


@transaction.atomic
def public_rows_import(*, export: dict[str, Any]) -> Tenant:
    """Create the tenant's public rows here: the tenant inactive and frozen until the move switches
    to this shard (its schema must already be restored: it is not created again)."""
    described = export["tenant"]
    tenant = Tenant(schema_name=described["schema_name"], name=described["name"], is_active=False)
    tenant.writes_frozen_at = timezone.now()
    tenant.save(verbosity=0)  # the schema exists: django-tenants checks and leaves it alone
    Tenant.objects.filter(pk=tenant.pk).update(created_at=parse_datetime(described["created_at"]))
    for label in PUBLIC_MODELS:
        entries = export["rows"].get(label, [])
        for entry in entries:
            entry["fields"]["tenant"] = tenant.pk
        for restored in serializers.deserialize("json", json.dumps(entries)):
            restored.save()
    return tenant
