"""Fresh tenants for evaluation and benchmarks: figures measured on a tenant left by an earlier run
(its documents, graph and caches) would not be comparable."""

from __future__ import annotations

from apps.integrations.graph.knowledge import graph_tenant_clear
from apps.tenants.models import Tenant
from apps.tenants.services import portal_tenant_provision


def evaluation_tenant_fresh(*, schema: str, admin_email: str = "eval@example.com") -> None:
    """Drop the tenant (its graph goes with it) and create it again, empty."""
    existing = Tenant.objects.filter(schema_name=schema).first()
    if existing is not None:
        existing.delete(force_drop=True)
    else:
        # A graph left by a run from before tenant deletion removed it: the new tenant must not
        # find old nodes under its name.
        graph_tenant_clear(tenant=schema)
    portal_tenant_provision(schema_name=schema, domain=f"{schema.replace('_', '-')}.localhost", admin_email=admin_email)
