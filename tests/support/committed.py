"""Committed data for tests that cross process or thread boundaries.

A worker process or a retrieval thread has its own database connection and cannot see data inside
a test's rolled-back transaction. These helpers create a tenant whose data is really committed and
drop its schema afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from apps.tenants.models import Tenant
from apps.tenants.services import portal_tenant_provision


@contextmanager
def committed_tenant(prefix: str = "t") -> Iterator[Tenant]:
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    provisioned = portal_tenant_provision(
        schema_name=schema, domain=f"{schema.replace('_', '-')}.localhost", admin_email=f"admin@{schema}.example.com"
    )
    try:
        yield provisioned.tenant
    finally:
        from django.db import connection

        connection.set_schema_to_public()
        provisioned.tenant.delete(force_drop=True)
