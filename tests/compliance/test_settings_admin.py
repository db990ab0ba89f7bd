"""Tenant admins change their own tenant's settings in the admin, validated and audited once."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.tenants.selectors import tenant_settings_get
from tests.audit.helpers import new_events

pytestmark = pytest.mark.django_db
SETTINGS = "/admin/tenants/tenantsettings/"


def _form(**overrides) -> dict:
    data = {
        "llm_provider_order": "[]",
        "daily_token_budget": "0",
        "max_answer_tokens": "1024",
        "pii_redaction_enabled": "on",
        "pii_kinds": '["email", "phone", "card", "iban", "national_id"]',
        "pii_at_ingestion": "keep",
        "pii_in_prompts": "mask",
        "pii_in_answers": "show",
        "query_retention_days": "90",
        "feedback_retention_days": "365",
        "audit_retention_days": "365",
        "backup_retention_days": "30",
        "rate_limits": "{}",
        "sso_groups_claim": "groups",
        "password_sign_in_enabled": "on",
    }
    return {**data, **overrides}


@pytest.fixture
def rows(tenant_alpha, tenant_beta):
    return tenant_settings_get(schema_name="alpha"), tenant_settings_get(schema_name="beta")


def test_a_tenant_admin_sees_only_their_tenants_settings(admin_client, rows):
    alpha, beta = rows
    listing = admin_client.get(SETTINGS)

    assert [row.pk for row in listing.context["cl"].result_list] == [alpha.pk]
    assert admin_client.get(f"{SETTINGS}{beta.pk}/change/").status_code == 302  # "does not exist" redirect


def test_a_change_is_validated_applied_and_audited_once(admin_client, rows):
    alpha, _ = rows
    with new_events() as events:
        response = admin_client.post(f"{SETTINGS}{alpha.pk}/change/", _form(query_retention_days="30"))

    assert response.status_code == 302
    assert tenant_settings_get(schema_name="alpha").query_retention_days == 30
    assert tenant_settings_get(schema_name="beta").query_retention_days == 90
    assert events.actions() == ["settings.update"]
    assert events[0].details["changed"] == {"query_retention_days": {"from": 90, "to": 30}}


def test_bad_values_are_shown_on_the_form_and_change_nothing(admin_client, rows):
    alpha, _ = rows
    with new_events() as events:
        response = admin_client.post(
            f"{SETTINGS}{alpha.pk}/change/", _form(llm_provider_order='["no-such-provider"]', query_retention_days="0")
        )

    assert response.status_code == 200
    page = response.content.decode()
    assert "unknown names" in page
    assert tenant_settings_get(schema_name="alpha").query_retention_days == 90
    assert events == []


def test_compliance_staff_cannot_change_settings(officer_client, rows):
    alpha, _ = rows
    assert officer_client.get(f"{SETTINGS}{alpha.pk}/change/").status_code == 403
    with schema_context("alpha"):
        assert tenant_settings_get(schema_name="alpha").query_retention_days == 90
