"""A key never holds more than the credential that made it, on the day it is made and on every day
it is used (third attack pass: a delegated key kept rights its creator lost and gained rights its
service account was given later; a one-hour key minted a key that never expires)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import TENANT_ADMINS_GROUP
from apps.api.models import ApiKey
from apps.documents.acl import SUPERUSER, user_principal
from apps.documents.models import Document
from apps.documents.services import document_access_grant

from .conftest import ALPHA_HOST, SchemaKeepingClient, make_key, tenant_user

pytestmark = pytest.mark.integration

KEYS = "/api/v1/admin/api-keys"
HISTORY = "/api/v1/history"


def call(key: str, method: str, path: str, body: dict | None = None):
    client = SchemaKeepingClient()
    return getattr(client, method)(path, body, format="json", HTTP_X_API_KEY=key, HTTP_HOST=ALPHA_HOST)


@pytest.fixture
def delegation(tenant_alpha):
    """A tenant admin's key, and a key that admin minted for a service account."""
    admin = tenant_user(tenant_alpha, admin=True, username="key-admin")
    service = tenant_user(tenant_alpha, username="nightly-sync", is_service_account=True)
    admin_key = make_key(tenant_alpha, admin, scopes=("query", "admin"))
    minted = call(admin_key, "post", KEYS, {"name": "sync", "scopes": ["query"], "username": "nightly-sync"})
    assert minted.status_code == 201, minted.json()
    return admin, service, minted.json()["key"]


def test_a_delegated_key_works_while_the_rule_holds(delegation):
    _, _, service_key = delegation

    assert call(service_key, "get", HISTORY).status_code == 200


def test_a_delegated_key_stops_when_its_creator_is_deactivated(delegation):
    admin, _, service_key = delegation
    with schema_context("alpha"):
        User.objects.filter(pk=admin.pk).update(is_active=False)
        User.objects.get(pk=admin.pk).save()  # through the model, as the admin does: caches follow

    response = call(service_key, "get", HISTORY)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "delegation_lapsed"


def test_a_delegated_key_stops_when_its_user_is_given_a_document_its_creator_may_not_read(delegation):
    _, service, service_key = delegation
    with schema_context("alpha"):
        Document.objects.create(title="payroll codes", source="codes.md", acl=[SUPERUSER, user_principal(service.pk)])

    response = call(service_key, "get", HISTORY)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "delegation_lapsed"
    assert "beyond what its creator holds" in response.json()["error"]["message"]


def test_a_delegated_key_stops_when_its_user_is_no_longer_a_service_account(delegation):
    _, service, service_key = delegation
    with schema_context("alpha"):
        service.is_service_account = False
        service.save(update_fields=["is_service_account"])

    response = call(service_key, "get", HISTORY)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "delegation_lapsed"


def test_a_key_cannot_mint_a_key_that_outlives_it_or_outspends_it(tenant_alpha):
    admin = tenant_user(tenant_alpha, admin=True, username="short-lived-admin")
    in_an_hour = timezone.now() + timedelta(hours=1)
    quota = {"query": {"capacity": 2, "refill_per_second": 0.01}}
    short_key = make_key(tenant_alpha, admin, scopes=("query", "admin"), expires_at=in_an_hour, rate_limits=quota)

    response = call(
        short_key,
        "post",
        KEYS,
        {
            "name": "forever",
            "scopes": ["query", "admin"],
            "expires_at": None,
            "rate_limits": {"query": {"capacity": 1_000_000, "refill_per_second": 100_000}},
        },
    )

    assert response.status_code == 201, response.json()
    with schema_context("alpha"):
        minted = ApiKey.objects.get(pk=response.json()["id"])
    assert minted.expires_at == in_an_hour
    assert minted.rate_limits == quota


def test_a_key_without_limits_mints_what_is_asked(tenant_alpha):
    admin = tenant_user(tenant_alpha, admin=True, username="plain-admin")
    admin_key = make_key(tenant_alpha, admin, scopes=("query", "admin"))
    next_week = timezone.now() + timedelta(days=7)

    response = call(
        admin_key,
        "post",
        KEYS,
        {
            "name": "weekly",
            "scopes": ["query"],
            "expires_at": next_week.isoformat(),
            "rate_limits": {"query": {"capacity": 50, "refill_per_second": 1}},
        },
    )

    assert response.status_code == 201, response.json()
    with schema_context("alpha"):
        minted = ApiKey.objects.get(pk=response.json()["id"])
    assert minted.expires_at is not None
    assert abs((minted.expires_at - next_week).total_seconds()) < 1
    assert minted.rate_limits == {"query": {"capacity": 50, "refill_per_second": 1.0}}


def test_a_delegated_key_stops_when_its_creator_loses_a_role_its_user_holds(tenant_alpha):
    """Re-test: the creator left "Tenant admins", the service account it made a key for is in it,
    and the key kept a tenant administrator's power (roles carry no model permissions)."""
    admin = tenant_user(tenant_alpha, admin=True, username="leaving-admin")
    tenant_user(tenant_alpha, admin=True, username="admin-robot", is_service_account=True)
    admin_key = make_key(tenant_alpha, admin, scopes=("query", "admin"))
    minted = call(admin_key, "post", KEYS, {"name": "robot", "scopes": ["admin"], "username": "admin-robot"})
    assert minted.status_code == 201, minted.json()
    with schema_context("alpha"):
        admin.groups.remove(Group.objects.get(name=TENANT_ADMINS_GROUP))

    response = call(minted.json()["key"], "get", KEYS)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "delegation_lapsed"


def test_a_key_minted_by_a_delegated_key_lapses_with_it(delegation):
    """Re-test: the service account's key minted a key for the service account itself, which then
    counted as the account's own and outlived the creator's deactivation."""
    admin, service, service_key = delegation
    with schema_context("alpha"):
        ApiKey.objects.filter(user_id=service.pk).update(scopes=["query", "admin"])
        service.groups.add(Group.objects.get(name=TENANT_ADMINS_GROUP))  # a robot that manages keys
    laundered = call(service_key, "post", KEYS, {"name": "self", "scopes": ["query"]})
    assert laundered.status_code == 201, laundered.json()
    with schema_context("alpha"):
        assert ApiKey.objects.get(pk=laundered.json()["id"]).created_by_id == admin.pk
        User.objects.filter(pk=admin.pk).update(is_active=False)
        User.objects.get(pk=admin.pk).save()

    assert call(laundered.json()["key"], "get", HISTORY).status_code == 403


def test_no_key_gets_a_quota_above_its_tenants_whole_bucket(tenant_alpha, settings):
    """Above the defaults is the tenant administrator's call; above the tenant's whole bucket (the
    platform's) is meaningless, and is capped."""
    admin = tenant_user(tenant_alpha, admin=True, username="quota-admin")
    admin_key = make_key(tenant_alpha, admin, scopes=("query", "ingest", "admin"))
    tenant_bucket = settings.API_RATE_LIMITS["query"]["tenant"]

    greedy = {"query": {"capacity": 10**6, "refill_per_second": 10**5}}
    response = call(admin_key, "post", KEYS, {"name": "greedy", "scopes": ["query"], "rate_limits": greedy})

    assert response.status_code == 201, response.json()
    with schema_context("alpha"):
        minted = ApiKey.objects.get(pk=response.json()["id"])
    assert minted.rate_limits["query"] == {
        "capacity": tenant_bucket["capacity"],
        "refill_per_second": float(tenant_bucket["refill_per_second"]),
    }


def test_a_delegated_key_mints_keys_for_its_own_service_account_only(delegation, tenant_alpha):
    """Third re-test: a key acting for a service account minted a key acting as its creator, and
    one made by a superuser minted keys acting as the superuser and as colleagues."""
    _, service, service_key = delegation
    tenant_user(tenant_alpha, username="colleague")
    with schema_context("alpha"):
        service.groups.add(Group.objects.get(name=TENANT_ADMINS_GROUP))
        ApiKey.objects.filter(user_id=service.pk).update(scopes=["query", "admin"])

    as_creator = call(service_key, "post", KEYS, {"name": "x", "scopes": ["query"], "username": "key-admin"})
    as_colleague = call(service_key, "post", KEYS, {"name": "x", "scopes": ["query"], "username": "colleague"})

    assert as_creator.status_code == as_colleague.status_code == 403
    assert "that account only" in as_creator.json()["error"]["message"]


def test_no_key_for_a_service_account_that_may_change_what_its_creator_may_only_read(delegation, tenant_alpha):
    """Third re-test: the service account could change and delete a document its key's creator
    could only read; through the key the creator rewrote its permissions and deleted it."""
    admin, service, service_key = delegation
    with schema_context("alpha"):
        document = Document.objects.create(
            title="Budget", source="budget.md", acl=[SUPERUSER, user_principal(admin.pk)]
        )
        document_access_grant(document=document, principal=service, permissions=["view_document", "delete_document"])
        document_access_grant(document=document, principal=admin, permissions=["view_document"])

    response = call(service_key, "get", HISTORY)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "delegation_lapsed"


def test_an_integrations_key_keeps_working_after_its_own_uploads(delegation):
    """Fourth re-test: the service account owns what it uploads, with rights its key's creator
    lacks; counting those stopped every integration's key after its first upload."""
    _, service, service_key = delegation
    with schema_context("alpha"):
        ApiKey.objects.filter(user_id=service.pk).update(scopes=["query", "ingest"])
    client = SchemaKeepingClient()

    uploaded = client.post(
        "/api/v1/documents/ingest",
        {"files": SimpleUploadedFile("sync.md", b"# Sync\n\nNightly sync notes.", content_type="text/markdown")},
        HTTP_X_API_KEY=service_key,
        HTTP_HOST=ALPHA_HOST,
    )

    assert uploaded.status_code == 202, uploaded.json()
    assert call(service_key, "get", HISTORY).status_code == 200


def test_another_admins_key_for_the_service_account_does_not_inherit_its_uploads(delegation, tenant_alpha):
    """Fifth attack pass: what a service account uploaded through one person's key is exempt from
    the delegation rule for that person's keys only. Another tenant admin, who cannot read those
    uploads, gets no key for the account (and the first person's key keeps working)."""
    _, service, service_key = delegation
    with schema_context("alpha"):
        ApiKey.objects.filter(user_id=service.pk).update(scopes=["query", "ingest"])
    uploaded = SchemaKeepingClient().post(
        "/api/v1/documents/ingest",
        {"files": SimpleUploadedFile("payroll.md", b"# Payroll\n\nSalaries.", content_type="text/markdown")},
        HTTP_X_API_KEY=service_key,
        HTTP_HOST=ALPHA_HOST,
    )
    assert uploaded.status_code == 202, uploaded.json()
    with schema_context("alpha"):
        document = Document.objects.get(pk=uploaded.json()["jobs"][0]["document_id"])
        assert document.delegated_upload_by_id == delegation[0].pk
    other_admin = tenant_user(tenant_alpha, admin=True, username="other-admin")
    other_key = make_key(tenant_alpha, other_admin, scopes=("query", "admin"))

    refused = call(other_key, "post", KEYS, {"name": "mine", "scopes": ["query"], "username": "nightly-sync"})

    assert refused.status_code == 403
    assert call(service_key, "get", HISTORY).status_code == 200
