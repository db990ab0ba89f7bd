"""A tenant's PII policy applied to its content: stored questions and answers (whether redaction is
on, and which kinds) and the answers shown (`pii_in_answers`).

The recognisers live in apps.core.pii (shared with the log filter); this module reads the tenant's
settings and applies them.
"""

from __future__ import annotations

from functools import lru_cache

from apps.core.pii import PII_KINDS, RedactionResult, pii_redact
from apps.tenants.models import PiiInAnswers
from apps.tenants.selectors import tenant_settings_get


def pii_redact_for_tenant(text: str, *, schema_name: str) -> RedactionResult:
    """Apply the tenant's policy: nothing when redaction is off, else the tenant's kinds."""
    return pii_redact_many_for_tenant([text], schema_name=schema_name)[0]


def pii_redact_many_for_tenant(texts: list[str], *, schema_name: str) -> list[RedactionResult]:
    """`pii_redact_for_tenant` for several texts, reading the tenant's policy once."""
    policy = tenant_settings_get(schema_name=schema_name)
    if not policy.pii_redaction_enabled:
        return [RedactionResult(text=text, counts={}) for text in texts]
    kinds = tuple(kind for kind in policy.pii_kinds if kind in PII_KINDS)
    return [_copy(_redacted(text, kinds)) for text in texts]


def pii_mask_for_answers(text: str, *, schema_name: str) -> str:
    """The answer text as the tenant lets it be shown (TenantSettings.pii_in_answers)."""
    policy = tenant_settings_get(schema_name=schema_name)
    if policy.pii_in_answers != PiiInAnswers.MASK:
        return text
    return _redacted(text, tuple(kind for kind in policy.pii_kinds if kind in PII_KINDS)).text


@lru_cache(maxsize=1024)
def _redacted(text: str, kinds: tuple[str, ...]) -> RedactionResult:
    # A cached answer is stored once per asking with the same text: the phone-number matcher alone
    # was a twentieth of the web process's CPU per answer under fifty streams. Memory only, bounded.
    return pii_redact(text, kinds=kinds)


def _copy(result: RedactionResult) -> RedactionResult:
    return RedactionResult(text=result.text, counts=dict(result.counts))  # callers may change counts
