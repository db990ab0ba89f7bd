"""django-auditlog records field changes of tenant data and configuration, with the actor, per tenant."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django_tenants.utils import schema_context
from guardian.models import UserObjectPermission

from apps.accounts.models import User
from apps.documents.models import Document, DocumentVersion
from apps.documents.services import document_access_grant
from tests.audit.helpers import make_user
from tests.documents.factories import indexed_document

pytestmark = pytest.mark.django_db


def _entries(model, pk=None):
    entries = LogEntry.objects.filter(content_type=ContentType.objects.get_for_model(model))
    return entries.filter(object_pk=str(pk)) if pk is not None else entries


def test_documents_versions_and_object_permissions_are_tracked(in_alpha):
    owner, reader = make_user(), make_user()
    document = indexed_document(owner=owner, title="Budget", texts=["numbers"])
    document_access_grant(document=document, principal=reader)

    assert _entries(Document, document.pk).filter(action=LogEntry.Action.CREATE).exists()
    assert _entries(Document, document.pk).filter(action=LogEntry.Action.UPDATE).exists()
    version = document.versions.get()
    (created,) = _entries(DocumentVersion, version.pk)
    assert "content" not in created.changes  # raw bytes are never copied into the log
    grant = UserObjectPermission.objects.get(user=reader, object_pk=str(document.pk))
    assert _entries(UserObjectPermission, grant.pk).exists()


def test_user_changes_are_tracked_with_the_password_masked(in_alpha):
    user = make_user()
    user.set_password("another long password")
    user.email = "new@alpha.example.com"
    user.save()

    update = _entries(User, user.pk).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert update.changes["email"][1] == "new@alpha.example.com"
    assert "another long password" not in str(update.changes)
    assert "pbkdf2" not in str(update.changes)
    assert "md5" not in str(update.changes)


def test_group_membership_changes_are_tracked(in_alpha):
    group = Group.objects.create(name="Finance")
    user = make_user()
    user.groups.add(group)

    entry = _entries(User, user.pk).filter(changes__has_key="groups").latest("timestamp")
    assert entry.changes["groups"]["objects"] == [str(group)]


def test_admin_changes_record_the_actor_and_address(client, tenant_alpha):
    with schema_context("alpha"):
        admin = User.objects.get(username="admin")
        target = make_user(username="carol")
        client.force_login(admin)
    client.post(
        f"/admin/accounts/user/{target.pk}/change/",
        {
            "username": "carol",
            "email": "carol@alpha.example.com",
            "is_active": "on",
            "date_joined_0": "2024-01-01",
            "date_joined_1": "10:00:00",
        },
        HTTP_HOST="alpha.localhost",
        REMOTE_ADDR="10.9.8.7",
    )

    with schema_context("alpha"):
        entry = _entries(User, target.pk).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert entry.actor_id == admin.pk
    assert entry.remote_addr == "10.9.8.7"
    assert entry.changes["email"] == ["carol@example.com", "carol@alpha.example.com"]


def test_tenant_settings_changes_are_tracked_in_the_tenants_own_log(in_alpha):
    from apps.tenants.models import TenantSettings
    from apps.tenants.services import tenant_settings_update

    admin = User.objects.get(username="admin")
    row = tenant_settings_update(schema_name="alpha", actor=admin, feedback_retention_days=200)

    assert _entries(TenantSettings, row.pk).filter(changes__has_key="feedback_retention_days").exists()
    with schema_context("beta"):
        assert not _entries(TenantSettings, row.pk).filter(changes__has_key="feedback_retention_days").exists()


def test_api_keys_are_tracked_without_their_secret(in_alpha):
    from apps.api.models import ApiKey
    from apps.api.services import api_key_create

    admin = User.objects.get(username="admin")
    created = api_key_create(tenant=in_alpha, user=admin, created_by=admin, name="ci", scopes=["query"])

    (entry,) = _entries(ApiKey, created.key.pk)
    assert created.key.secret_hash not in str(entry.changes)
    assert created.secret not in str(entry.changes)
