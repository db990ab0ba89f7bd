"""The API key registry. It lives in the public schema: a key names its own tenant, so a request
needs no tenant host name to be routed (integrations call one URL for every tenant).
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from apps.tenants.models import Tenant


class ApiKey(models.Model):
    """One key. Only a SHA-256 of its secret is stored; the secret is shown once, at creation.

    `user_id` and `created_by_id` are user ids inside the tenant's schema (a foreign key cannot
    cross schemas): the key acts as that user, with that user's document permissions.
    """

    class Scope(models.TextChoices):
        QUERY = "query", "Ask questions, read history, give feedback"
        INGEST = "ingest", "Upload, list, delete documents and change their permissions"
        ADMIN = "admin", "Manage API keys and tenant settings"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=32, unique=True, help_text="public part of the key, for lookup")
    secret_hash = models.CharField(max_length=64, help_text="sha256 hex digest of the secret part")
    scopes = ArrayField(models.CharField(max_length=20, choices=Scope.choices))
    user_id = models.BigIntegerField(help_text="the tenant user the key acts as")
    created_by_id = models.BigIntegerField(null=True, blank=True)
    # Route class -> {"capacity", "refill_per_second"}: this key's own quota, over the tenant's.
    rate_limits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_id = models.BigIntegerField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="api_key_tenant_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_expired(self, *, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())
