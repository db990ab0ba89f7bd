"""The tenant's PII policy for text that leaves for an outside model (TenantSettings.pii_in_prompts)."""

from __future__ import annotations

from django_tenants.utils import get_public_schema_name

from apps.core.pii import PII_KINDS, PiiMasker

from .models import PiiInPrompts
from .selectors import tenant_settings_get


def prompt_masker(schema_name: str) -> PiiMasker | None:
    """A masker for the prompts of one call, or None when the tenant sends personal data as is.

    Outside any tenant nothing says the data may leave as is, so everything is masked (fail closed).
    """
    if not schema_name or schema_name == get_public_schema_name():
        return PiiMasker(PII_KINDS)
    policy = tenant_settings_get(schema_name=schema_name)
    if policy.pii_in_prompts != PiiInPrompts.MASK:
        return None
    return PiiMasker(kind for kind in policy.pii_kinds if kind in PII_KINDS)
