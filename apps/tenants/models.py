"""Tenants and their host names; both live in the public schema."""

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from apps.core.pii import PII_KINDS


class Tenant(TenantMixin):
    """A customer company. Its data lives in the PostgreSQL schema `schema_name`."""

    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set while the tenant is copied to another shard (apps/compliance/tenant_moves.py): reads are
    # served, writes answer 503 with Retry-After, background work waits (apps/tenants/freeze.py).
    writes_frozen_at = models.DateTimeField(null=True, blank=True)

    # Creating a tenant creates and migrates its schema.
    auto_create_schema = True
    auto_drop_schema = False

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"


class Domain(DomainMixin):
    """A host name that resolves to a tenant (e.g. demo.localhost)."""

    def __str__(self) -> str:
        return self.domain


MAX_ANSWER_TOKENS_LIMIT = 100_000


def default_pii_kinds() -> list[str]:
    return list(PII_KINDS)


class PiiAtIngestion(models.TextChoices):
    """What ingestion does with personal data in a document (docs/compliance.md, "PII policy")."""

    KEEP = "keep", "index as is"
    MASK = "mask", "mask before chunking and indexing (the original stays, encrypted)"
    DROP = "drop", "leave out paragraphs and rows that contain it (the original stays, encrypted)"


class PiiInPrompts(models.TextChoices):
    """What a prompt to an outside model provider carries."""

    SEND = "send", "send as is"
    MASK = "mask", "mask, and put the values back in the answer shown"


class PiiInAnswers(models.TextChoices):
    """What the answer shown to the asker carries."""

    SHOW = "show", "show as is"
    MASK = "mask", "mask"


# The fields a tenant administrator may change (API control plane and Django admin alike).
TENANT_SETTINGS_EDITABLE_FIELDS = (
    "llm_provider_order",
    "daily_token_budget",
    "max_answer_tokens",
    "pii_redaction_enabled",
    "pii_kinds",
    "pii_at_ingestion",
    "pii_in_prompts",
    "pii_in_answers",
    "query_retention_days",
    "feedback_retention_days",
    "audit_retention_days",
    "backup_retention_days",
    "rate_limits",
    "sso_display_name",
    "sso_issuer",
    "sso_client_id",
    "sso_client_secret_ref",
    "sso_allowed_email_domains",
    "sso_groups_claim",
    "password_sign_in_enabled",
)


class TenantSettings(models.Model):
    """Per-tenant policy: answer providers and budgets, PII at each stage, retention, rate limits.

    Lives in the public schema next to the tenant, so platform staff and the model router read it
    without entering the tenant; one row per tenant, created with these defaults on first read
    (apps.tenants.selectors.tenant_settings_get). Change it only through tenant_settings_update,
    which validates and audits.
    """

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="tenant_settings")
    # Provider names from settings.LLM_PROVIDERS: the allowlist and its order; empty = LLM_DEFAULT_ORDER.
    llm_provider_order = models.JSONField(default=list, blank=True)
    daily_token_budget = models.PositiveBigIntegerField(default=0, help_text="Tokens per UTC day; 0 = unlimited.")
    max_answer_tokens = models.PositiveIntegerField(
        default=1024, help_text="Capped again by settings.ANSWER_MAX_TOKENS."
    )
    # The PII policy, stage by stage, over the kinds in `pii_kinds`: stored questions and answers
    # (`pii_redaction_enabled`), ingestion, prompts to outside providers, answers shown.
    pii_redaction_enabled = models.BooleanField(default=True, help_text="redact stored questions and answers")
    pii_kinds = models.JSONField(default=default_pii_kinds, blank=True)
    pii_at_ingestion = models.CharField(max_length=10, choices=PiiAtIngestion.choices, default=PiiAtIngestion.KEEP)
    pii_in_prompts = models.CharField(max_length=10, choices=PiiInPrompts.choices, default=PiiInPrompts.MASK)
    pii_in_answers = models.CharField(max_length=10, choices=PiiInAnswers.choices, default=PiiInAnswers.SHOW)
    query_retention_days = models.PositiveIntegerField(default=90)
    feedback_retention_days = models.PositiveIntegerField(default=365)
    audit_retention_days = models.PositiveIntegerField(default=365)
    # Days a scheduled backup is kept (apps/compliance/tenant_backups.py); the newest is always kept.
    backup_retention_days = models.PositiveIntegerField(default=30)
    # Route class -> {"capacity": int, "refill_per_second": float}; missing classes use the API defaults.
    rate_limits = models.JSONField(default=dict, blank=True)
    # Single sign-on over OpenID Connect (docs/identity.md): on when an issuer and a client id are set.
    sso_display_name = models.CharField(max_length=100, blank=True, help_text='the button reads "Sign in with ..."')
    sso_issuer = models.CharField(max_length=500, blank=True, help_text="the provider's issuer URL (https)")
    sso_client_id = models.CharField(max_length=255, blank=True)
    # Never the secret itself: "env:NAME" (NAME starts with OIDC_CLIENT_SECRET_) or "file:NAME" (a
    # file in settings.OIDC_CLIENT_SECRETS_DIR), so it is in no row, backup or audit event.
    sso_client_secret_ref = models.CharField(max_length=255, blank=True)
    sso_allowed_email_domains = models.JSONField(
        default=list, blank=True, help_text="e-mail domains that may sign in; empty: any the provider vouches for"
    )
    sso_groups_claim = models.CharField(max_length=100, default="groups", blank=True)
    password_sign_in_enabled = models.BooleanField(
        default=True, help_text="off: everyone signs in through the identity provider (portal and admin)"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "tenant settings"
        verbose_name_plural = "tenant settings"

    def __str__(self) -> str:
        return f"settings of {self.tenant_id}"

    @property
    def sso_enabled(self) -> bool:
        return bool(self.sso_issuer and self.sso_client_id)


class TenantDataKey(models.Model):
    """One of a tenant's data keys, stored only wrapped by the key-encryption key (apps/tenants/encryption).

    `key_id` is random and global: every ciphertext names the key that sealed it. The newest key
    that is not retired seals new values; retired keys still open old values until a rotation has
    re-sealed them all (`resealed_at`), and are destroyed once no backup needs them either.
    Deleting the tenant deletes its keys (crypto-shredding).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="data_keys")
    key_id = models.UUIDField(unique=True)
    wrapped_key = models.BinaryField()
    kek_id = models.CharField(max_length=100, help_text="which key-encryption key wrapped it")
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True, help_text="no longer seals new values")
    resealed_at = models.DateTimeField(
        null=True, blank=True, help_text="no live value needs it any more; kept only while a backup does"
    )

    class Meta:
        ordering = ["tenant_id", "created_at"]
        constraints = [
            # At most one key seals new values for a tenant.
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(retired_at__isnull=True), name="one_active_data_key_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.key_id}"
