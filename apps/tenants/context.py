"""Run code inside one tenant's schema, and fail closed when no tenant is given.

Celery tasks and Channels consumers carry the schema name explicitly and enter it here. Nothing
falls back to the public schema silently: tenant data is never read from the wrong place.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from apps.core.errors import TenantContextRequired
from apps.core.process_cache import process_cache_get

from .models import Tenant

P = ParamSpec("P")
R = TypeVar("R")


def tenant_for_schema(schema_name: str | None) -> Tenant:
    """The active tenant owning `schema_name`; the public schema and unknown names are refused."""
    if not schema_name or schema_name == get_public_schema_name():
        raise TenantContextRequired("a tenant schema name is required for tenant-scoped work")
    found = process_cache_get("tenant-by-schema", schema_name, lambda: _active_tenant_read(schema_name))
    if found is None:
        raise TenantContextRequired(f"no active tenant with schema {schema_name!r}")
    return copy.copy(found)  # shared with other requests of this process; the caller's to change


def _active_tenant_read(schema_name: str) -> Tenant | None:
    return Tenant.objects.filter(schema_name=schema_name, is_active=True).first()


@contextmanager
def in_tenant(schema_name: str | None) -> Iterator[Tenant]:
    """Enter the tenant's schema for the block and restore the previous one afterwards."""
    tenant = tenant_for_schema(schema_name)
    with tenant_context(tenant):
        yield tenant


@contextmanager
def in_resolved_tenant(schema_name: str | None) -> Iterator[None]:
    """Enter a tenant's schema on this thread's connection, then return it to the public schema.

    For worker threads serving a caller that is already inside the tenant (retrieval legs: the name
    comes from the caller's connection, `current_tenant_schema()`), so the tenant is not looked up
    again: no query per leg. Like `in_tenant`, it refuses a missing name and the public schema.
    """
    if not schema_name or schema_name == get_public_schema_name():
        raise TenantContextRequired("a tenant schema name is required for tenant-scoped work")
    connection.set_schema(schema_name)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        reset_to_public_schema()


@contextmanager
def in_schema(schema_name: str) -> Iterator[None]:
    """Like django-tenants' schema_context, but free when the connection is already there.

    Switching, even to the same schema, makes the next query re-send `SET search_path` and empties
    the ContentType cache; code that runs once per ingested document notices.
    """
    if active_schema_name() == schema_name:
        yield
        return
    with schema_context(schema_name):
        yield


def active_schema_name() -> str:
    """The schema the default connection is set to (django-tenants keeps it on the connection)."""
    return str(getattr(connection, "schema_name", get_public_schema_name()))


def request_tenant_enter(tenant: Tenant) -> Tenant:
    """Serve the rest of this request from `tenant`'s schema (a credential that names its tenant,
    presented on the platform host). The tenant middleware sets the schema afresh for the next
    request on this connection, so nothing leaks past the request. Returns the copy entered: the
    tenant given may be shared with other requests through the process cache."""
    entered = copy.copy(tenant)
    connection.set_tenant(entered)  # type: ignore[attr-defined]
    return entered


def reset_to_public_schema() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def current_tenant_schema() -> str:
    """The schema of the tenant this connection serves; raises outside any tenant."""
    schema_name = active_schema_name()
    if not schema_name or schema_name == get_public_schema_name():
        raise TenantContextRequired("this code must run inside a tenant (see apps.tenants.context.in_tenant)")
    return schema_name


def runs_in_tenant(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a Celery task body that takes `schema_name=` so it runs in that tenant.

    Tasks carry the schema name, never a tenant object, because arguments cross a broker.
    """

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        schema_name = kwargs.get("schema_name")
        with in_tenant(schema_name if isinstance(schema_name, str) else None):
            return function(*args, **kwargs)

    return wrapper
