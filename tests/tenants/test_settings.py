"""Tenant settings: created with defaults on first read, changed only through a validating, audited service."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django_tenants.utils import schema_context

from apps.audit.models import AuditEvent
from apps.core.errors import TenantContextRequired
from apps.core.process_cache import process_cache_scope
from apps.tenants.models import PII_KINDS, Tenant, TenantSettings
from apps.tenants.selectors import tenant_settings_get
from apps.tenants.services import tenant_settings_update

pytestmark = pytest.mark.integration

PROVIDERS = {
    "anthropic": {"BACKEND": "apps.integrations.llm.anthropic_provider.AnthropicProvider"},
    "extractive": {"BACKEND": "apps.answers.providers.extractive.ExtractiveProvider"},
}


def settings_audit_events(schema: str) -> list[AuditEvent]:
    with schema_context(schema):
        return list(AuditEvent.objects.filter(action="settings.update").order_by("sequence"))


def test_the_first_read_creates_the_defaults_once(tenant_alpha):
    first = tenant_settings_get(schema_name="alpha")
    second = tenant_settings_get(schema_name="alpha")

    assert first.pk == second.pk
    assert TenantSettings.objects.filter(tenant=tenant_alpha).count() == 1
    assert first.llm_provider_order == []
    assert first.daily_token_budget == 0
    assert first.max_answer_tokens == 1024
    assert first.pii_redaction_enabled is True
    assert first.pii_kinds == list(PII_KINDS)
    assert (first.query_retention_days, first.feedback_retention_days, first.audit_retention_days) == (90, 365, 365)
    assert first.rate_limits == {}


def test_each_tenant_has_its_own_settings(tenant_alpha, tenant_beta):
    tenant_settings_update(schema_name="alpha", actor=None, daily_token_budget=5000)

    assert tenant_settings_get(schema_name="alpha").daily_token_budget == 5000
    assert tenant_settings_get(schema_name="beta").daily_token_budget == 0


def test_the_settings_read_works_from_inside_another_tenant(in_beta, tenant_alpha):
    tenant_settings_update(schema_name="alpha", actor=None, max_answer_tokens=77)

    assert tenant_settings_get(schema_name="alpha").max_answer_tokens == 77


@pytest.mark.parametrize("schema_name", ["", "public", "no_such_tenant"])
def test_no_settings_without_a_real_tenant(db, provisioned_tenants, schema_name):
    with pytest.raises(TenantContextRequired):
        tenant_settings_get(schema_name=schema_name)
    with pytest.raises(TenantContextRequired):
        tenant_settings_update(schema_name=schema_name, actor=None, daily_token_budget=1)


def test_an_inactive_tenant_has_no_settings(tenant_alpha):
    Tenant.objects.filter(pk=tenant_alpha.pk).update(is_active=False)

    with pytest.raises(TenantContextRequired):
        tenant_settings_get(schema_name="alpha")


def test_an_update_is_applied_and_audited_in_the_tenant(in_alpha, provisioned_tenants):
    admin = provisioned_tenants["alpha"].admin.user
    with override_settings(LLM_PROVIDERS=PROVIDERS):
        updated = tenant_settings_update(
            schema_name="alpha",
            actor=admin,
            llm_provider_order=["extractive"],
            pii_kinds=["email", "iban"],
            rate_limits={"answers": {"capacity": 10, "refill_per_second": 0.5}},
        )

    stored = TenantSettings.objects.get(pk=updated.pk)
    assert stored.llm_provider_order == ["extractive"]
    assert stored.pii_kinds == ["email", "iban"]
    assert stored.rate_limits == {"answers": {"capacity": 10, "refill_per_second": 0.5}}
    (event,) = settings_audit_events("alpha")
    assert event.actor_id == admin.pk
    assert event.target_type == "tenants.tenantsettings"
    assert event.details["changed"]["llm_provider_order"] == {"from": [], "to": ["extractive"]}
    assert set(event.details["changed"]) == {"llm_provider_order", "pii_kinds", "rate_limits"}
    assert settings_audit_events("beta") == []


def test_inside_a_scope_settings_are_read_once_and_an_update_is_seen(tenant_alpha, django_assert_num_queries):
    tenant_settings_get(schema_name="alpha")  # the row exists
    with process_cache_scope():
        with django_assert_num_queries(1):
            first = tenant_settings_get(schema_name="alpha")
            assert tenant_settings_get(schema_name="alpha") is first
        with process_cache_scope():  # nested: the same scope
            assert tenant_settings_get(schema_name="alpha") is first
        tenant_settings_update(schema_name="alpha", actor=None, daily_token_budget=4321)
        assert tenant_settings_get(schema_name="alpha").daily_token_budget == 4321
    with django_assert_num_queries(1):  # outside the block every read goes to the database
        assert tenant_settings_get(schema_name="alpha").daily_token_budget == 4321


def test_an_update_that_changes_nothing_writes_no_audit_entry(tenant_alpha):
    tenant_settings_update(schema_name="alpha", actor=None, query_retention_days=90)

    assert settings_audit_events("alpha") == []


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"llm_provider_order": ["gpt-99"]}, "llm_provider_order"),
        ({"llm_provider_order": "anthropic"}, "llm_provider_order"),
        ({"llm_provider_order": ["anthropic", "anthropic"]}, "llm_provider_order"),
        ({"daily_token_budget": -1}, "daily_token_budget"),
        ({"daily_token_budget": "1000"}, "daily_token_budget"),
        ({"max_answer_tokens": 0}, "max_answer_tokens"),
        ({"max_answer_tokens": True}, "max_answer_tokens"),
        ({"pii_redaction_enabled": "no"}, "pii_redaction_enabled"),
        ({"pii_kinds": ["email", "shoe_size"]}, "pii_kinds"),
        ({"query_retention_days": 0}, "query_retention_days"),
        ({"audit_retention_days": 10**6}, "audit_retention_days"),
        ({"rate_limits": {"answers": {"capacity": 0, "refill_per_second": 1}}}, "rate_limits"),
        ({"rate_limits": {"answers": {"capacity": 5}}}, "rate_limits"),
        ({"rate_limits": {"Bad Class!": {"capacity": 5, "refill_per_second": 1}}}, "rate_limits"),
        ({"rate_limits": {"answers": {"capacity": 5, "refill_per_second": -2}}}, "rate_limits"),
        ({"rate_limits": ["answers"]}, "rate_limits"),
        ({"tenant": 2}, "tenant"),
        ({"updated_at": "2020-01-01"}, "updated_at"),
    ],
)
def test_bad_values_are_refused_with_the_field_named_and_nothing_changes(tenant_alpha, fields, bad_field):
    before = tenant_settings_get(schema_name="alpha")

    with override_settings(LLM_PROVIDERS=PROVIDERS), pytest.raises(ValidationError) as raised:
        tenant_settings_update(schema_name="alpha", actor=None, **{"feedback_retention_days": 30, **fields})

    assert list(raised.value.message_dict) == [bad_field]
    assert raised.value.message_dict[bad_field][0]
    after = TenantSettings.objects.get(pk=before.pk)
    assert after.feedback_retention_days == 365  # the valid field in the same call is not applied either
    assert after.daily_token_budget == before.daily_token_budget
    assert settings_audit_events("alpha") == []
