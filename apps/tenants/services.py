"""Provision tenants: schema, host name, default groups and the first administrator."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django_tenants.utils import get_public_schema_name, schema_context

from apps.accounts.services import AdminAccount, default_groups_ensure, tenant_admin_ensure

from .models import Domain, Tenant

SCHEMA_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,62}$")


@dataclass(frozen=True)
class ProvisionedTenant:
    tenant: Tenant
    domain: Domain
    admin: AdminAccount
    created: bool


def _validate_schema_name(schema_name: str) -> None:
    if not SCHEMA_NAME_PATTERN.match(schema_name) or schema_name.startswith("pg_"):
        raise ValidationError(
            f"{schema_name!r} is not a valid schema name: use 2-63 lowercase letters, digits or "
            "underscores, starting with a letter (not pg_)."
        )
    if schema_name == get_public_schema_name():
        raise ValidationError("the public schema is not a tenant")


def public_tenant_ensure(*, domain: str) -> Tenant:
    """The public schema's tenant row and host, where platform staff administer tenants."""
    with schema_context(get_public_schema_name()):
        tenant, _ = Tenant.objects.get_or_create(schema_name=get_public_schema_name(), defaults={"name": "Platform"})
        Domain.objects.get_or_create(domain=domain, defaults={"tenant": tenant, "is_primary": True})
    return tenant


def portal_tenant_provision(
    *, schema_name: str, domain: str, admin_email: str, name: str | None = None, reset_password: bool = False
) -> ProvisionedTenant:
    """Create (or complete) a tenant; safe to run again: nothing is duplicated or reset unasked."""
    _validate_schema_name(schema_name)
    with schema_context(get_public_schema_name()):
        existing_domain = Domain.objects.filter(domain=domain).select_related("tenant").first()
        if existing_domain and existing_domain.tenant.schema_name != schema_name:
            raise ValidationError(f"domain {domain!r} already belongs to tenant {existing_domain.tenant.schema_name!r}")
        tenant = Tenant.objects.filter(schema_name=schema_name).first()
        created = tenant is None
        if tenant is None:
            # Saving creates and migrates the schema (auto_create_schema).
            tenant = Tenant(schema_name=schema_name, name=name or schema_name)
            tenant.save(verbosity=0)
        with transaction.atomic():
            domain_row, _ = Domain.objects.get_or_create(
                domain=domain, defaults={"tenant": tenant, "is_primary": not tenant.domains.exists()}
            )
    with schema_context(schema_name):
        default_groups_ensure()
        admin = tenant_admin_ensure(email=admin_email, reset_password=reset_password)
    return ProvisionedTenant(tenant=tenant, domain=domain_row, admin=admin, created=created)
