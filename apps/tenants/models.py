"""Tenants and their host names; both live in the public schema."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Tenant(TenantMixin):
    """A customer company. Its data lives in the PostgreSQL schema `schema_name`."""

    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    # Creating a tenant creates and migrates its schema.
    auto_create_schema = True
    auto_drop_schema = False

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"


class Domain(DomainMixin):
    """A host name that resolves to a tenant (e.g. demo.localhost)."""

    def __str__(self) -> str:
        return self.domain
