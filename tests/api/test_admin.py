"""The control plane: API keys and tenant settings, for tenant administrators only, all audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.api.models import ApiKey
from apps.audit.models import AuditEvent
from apps.documents.acl import SUPERUSER, user_principal
from apps.documents.models import Document
from apps.tenants.selectors import tenant_settings_get

from .conftest import ALPHA_HOST, BETA_HOST, SchemaKeepingClient, make_key, tenant_user

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

KEYS = "/api/v1/admin/api-keys"
SETTINGS = "/api/v1/admin/settings"


@pytest.fixture
def admin_client(alpha_admin_key):
    """The administrator's client; `api_client` stays free for other credentials."""
    own = SchemaKeepingClient()
    own.credentials(HTTP_X_API_KEY=alpha_admin_key, HTTP_HOST=ALPHA_HOST)
    return own


def audit_actions() -> list[str]:
    with schema_context("alpha"):
        return list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))


def test_a_created_key_is_shown_once_works_and_is_audited(admin_client, api_client, alpha_admin):
    created = admin_client.post(KEYS, {"name": "CRM sync", "scopes": ["query"]}, format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["key"].startswith(f"kp_{body['prefix']}_")
    assert (body["name"], body["scopes"], body["user_id"]) == ("CRM sync", ["query"], alpha_admin.pk)
    listed = admin_client.get(KEYS).json()
    assert body["id"] in [key["id"] for key in listed["results"]]
    assert "key" not in listed["results"][0]
    assert "key" not in admin_client.get(f"{KEYS}/{body['id']}").json()
    assert "api_key.create" in audit_actions()

    fresh = api_client.get("/api/v1/documents", HTTP_X_API_KEY=body["key"], HTTP_HOST=ALPHA_HOST)
    assert fresh.status_code == 403  # a query-only key may not list documents: it authenticated


def test_a_key_can_act_as_another_user_with_an_expiry_and_its_own_quota(admin_client, tenant_alpha):
    robot = tenant_user(tenant_alpha, username="integration-robot", is_service_account=True)
    expires = (timezone.now() + timedelta(days=30)).replace(microsecond=0)
    body = admin_client.post(
        KEYS,
        {
            "name": "robot",
            "scopes": ["query", "ingest"],
            "username": "integration-robot",
            "expires_at": expires.isoformat(),
            "rate_limits": {"query": {"capacity": 500, "refill_per_second": 10}},
        },
        format="json",
    ).json()

    key = ApiKey.objects.get(pk=body["id"])
    assert (key.user_id, key.expires_at, key.scopes) == (robot.pk, expires, ["ingest", "query"])
    assert key.rate_limits == {"query": {"capacity": 500, "refill_per_second": 10.0}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "scopes": ["everything"]}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"scopes": ["query"]}, "name"),
        ({"name": "x", "scopes": ["query"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"name": "x", "scopes": ["query"], "username": "ghost"}, "username"),
        (
            {"name": "x", "scopes": ["query"], "rate_limits": {"everything": {"capacity": 1, "refill_per_second": 1}}},
            "rate_limits",
        ),
        (
            {"name": "x", "scopes": ["query"], "rate_limits": {"query": {"capacity": 0, "refill_per_second": 1}}},
            "rate_limits",
        ),
    ],
)
def test_bad_key_requests_are_400_and_create_nothing(admin_client, body, field):
    before = ApiKey.objects.count()
    response = admin_client.post(KEYS, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["details"]
    assert ApiKey.objects.count() == before


def test_a_key_cannot_mint_a_stronger_key(api_client, tenant_alpha, alpha_admin):
    admin_only = make_key(tenant_alpha, alpha_admin, scopes=("admin",))
    response = api_client.post(
        KEYS,
        {"name": "x", "scopes": ["admin", "ingest"]},
        format="json",
        HTTP_X_API_KEY=admin_only,
        HTTP_HOST=ALPHA_HOST,
    )
    assert response.status_code == 400
    assert "scopes" in response.json()["error"]["details"]


def test_revoking_stops_the_key_at_once_and_is_audited(admin_client, api_client, tenant_alpha, alpha_user):
    victim = make_key(tenant_alpha, alpha_user)
    key_id = ApiKey.objects.get(prefix=victim.split("_")[1]).pk
    assert api_client.get("/api/v1/documents", HTTP_X_API_KEY=victim, HTTP_HOST=ALPHA_HOST).status_code == 200

    revoked = admin_client.delete(f"{KEYS}/{key_id}")

    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert api_client.get("/api/v1/documents", HTTP_X_API_KEY=victim, HTTP_HOST=ALPHA_HOST).status_code == 401
    assert admin_client.delete(f"{KEYS}/{key_id}").status_code == 200  # again: no change, no second entry
    assert audit_actions().count("api_key.revoke") == 1


def test_another_tenants_keys_are_invisible(admin_client, tenant_beta, beta_user):
    make_key(tenant_beta, beta_user)
    beta_key = ApiKey.objects.get(tenant=tenant_beta)

    assert beta_key.pk not in [key["id"] for key in admin_client.get(KEYS).json()["results"]]
    assert admin_client.get(f"{KEYS}/{beta_key.pk}").status_code == 404
    assert admin_client.delete(f"{KEYS}/{beta_key.pk}").status_code == 404
    assert ApiKey.objects.get(pk=beta_key.pk).revoked_at is None


def test_key_lists_are_paged(admin_client, tenant_alpha, alpha_admin):
    for n in range(4):
        make_key(tenant_alpha, alpha_admin, name=f"key {n}")
    page = admin_client.get(KEYS, {"page_size": 2}).json()
    assert page["count"] == 5  # four plus the admin's own
    assert [key["name"] for key in page["results"]] == ["key 3", "key 2"]


def test_admin_routes_need_the_admin_scope_and_an_administrator(api_client, tenant_alpha, alpha_user, alpha_admin):
    no_scope = make_key(tenant_alpha, alpha_admin, scopes=("query", "ingest"))
    not_admin = make_key(tenant_alpha, alpha_user, scopes=("admin",))

    for key, code in ((no_scope, "insufficient_scope"), (not_admin, "not_tenant_admin")):
        for method, path in (("get", KEYS), ("post", KEYS), ("get", SETTINGS), ("patch", SETTINGS)):
            response = getattr(api_client, method)(path, {}, format="json", HTTP_X_API_KEY=key, HTTP_HOST=ALPHA_HOST)
            assert response.status_code == 403, (method, path)
            assert response.json()["error"]["code"] == code


def test_an_admin_key_of_another_tenant_is_refused(api_client, tenant_beta):
    beta_admin = tenant_user(tenant_beta, admin=True)
    key = make_key(tenant_beta, beta_admin, scopes=("admin",))
    assert api_client.get(SETTINGS, HTTP_X_API_KEY=key, HTTP_HOST=ALPHA_HOST).status_code == 403
    assert api_client.get(SETTINGS, HTTP_X_API_KEY=key, HTTP_HOST=BETA_HOST).status_code == 200


def test_settings_are_read_and_changed_with_an_audit_entry(admin_client):
    current = admin_client.get(SETTINGS).json()
    assert current["pii_redaction_enabled"] is True
    assert current["query_retention_days"] == 90

    changed = admin_client.patch(
        SETTINGS,
        {
            "query_retention_days": 30,
            "llm_provider_order": ["extractive"],
            "rate_limits": {"query": {"capacity": 10, "refill_per_second": 0.5}},
        },
        format="json",
    )

    assert changed.status_code == 200, changed.json()
    assert changed.json()["query_retention_days"] == 30
    row = tenant_settings_get(schema_name="alpha")
    assert (row.query_retention_days, row.llm_provider_order) == (30, ["extractive"])
    assert row.rate_limits == {"query": {"capacity": 10, "refill_per_second": 0.5}}
    assert "settings.update" in audit_actions()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query_retention_days": 0}, "query_retention_days"),
        ({"llm_provider_order": ["gpt-99"]}, "llm_provider_order"),
        ({"pii_kinds": ["shoe_size"]}, "pii_kinds"),
        ({"daily_token_budget": "lots"}, "daily_token_budget"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
    ],
)
def test_bad_settings_are_400_and_change_nothing(admin_client, body, field):
    before = admin_client.get(SETTINGS).json()
    response = admin_client.patch(SETTINGS, body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    assert admin_client.get(SETTINGS).json() == before
    assert "settings.update" not in audit_actions()


def _keys_acting_as(user) -> int:
    with schema_context("alpha"):
        return ApiKey.objects.filter(user_id=user.pk).count()


def test_a_tenant_admin_cannot_mint_a_key_that_acts_as_a_superuser(admin_client, tenant_alpha):
    """Attack pass, hole 1: a tenant admin's key minted a key acting as the superuser, which read everything."""
    boss = tenant_user(tenant_alpha, username="root-admin", is_superuser=True, is_staff=True)

    response = admin_client.post(KEYS, {"name": "x", "scopes": ["query"], "username": "root-admin"}, format="json")

    assert response.status_code == 403, response.json()
    assert _keys_acting_as(boss) == 0


def test_a_tenant_admin_cannot_mint_a_key_for_someone_who_may_read_what_the_admin_may_not(admin_client, tenant_alpha):
    colleague = tenant_user(tenant_alpha, username="private-reader", is_service_account=True)
    with schema_context("alpha"):
        Document.objects.create(
            title="colleague's notes", source="notes.md", acl=[SUPERUSER, user_principal(colleague.pk)]
        )

    response = admin_client.post(KEYS, {"name": "x", "scopes": ["query"], "username": "private-reader"}, format="json")

    assert response.status_code == 403, response.json()
    assert _keys_acting_as(colleague) == 0


def test_a_tenant_admin_cannot_mint_a_key_that_acts_as_a_colleague(admin_client, tenant_alpha):
    """Second attack pass: a key minted as a colleague read her question history and, on her own
    document, granted the admin the rights to change and delete it."""
    colleague = tenant_user(tenant_alpha, username="carol")

    response = admin_client.post(KEYS, {"name": "x", "scopes": ["query"], "username": "carol"}, format="json")

    assert response.status_code == 403, response.json()
    assert "service accounts" in response.json()["error"]["message"]
    assert _keys_acting_as(colleague) == 0


def test_a_superuser_may_mint_a_key_for_anyone(api_client, tenant_alpha):
    root = tenant_user(tenant_alpha, username="root", is_superuser=True, is_staff=True)
    colleague = tenant_user(tenant_alpha, username="private-reader-2")
    with schema_context("alpha"):
        Document.objects.create(title="notes", source="notes.md", acl=[SUPERUSER, user_principal(colleague.pk)])
    root_key = make_key(tenant_alpha, root, scopes=("query", "admin"))

    response = api_client.post(
        KEYS,
        {"name": "x", "scopes": ["query"], "username": "private-reader-2"},
        format="json",
        HTTP_X_API_KEY=root_key,
        HTTP_HOST=ALPHA_HOST,
    )

    assert response.status_code == 201, response.json()
    assert _keys_acting_as(colleague) == 1
