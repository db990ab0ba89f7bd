"""Every write made in the Django admin goes through the service that owns the model (attack pass,
holes 2, 4 and 5), and no admin can be registered without saying how it writes."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django_tenants.utils import schema_context
from guardian.shortcuts import get_perms

from apps.accounts.models import User
from apps.answers.models import QueryLog
from apps.audit.models import AuditEvent
from apps.documents.acl import TENANT_WIDE
from apps.documents.index_state import current_index_version
from apps.documents.models import Chunk, Document
from apps.feedback.models import Feedback
from apps.tenants.models import Tenant, TenantSettings
from tests.documents.factories import indexed_document

from .helpers import new_events

pytestmark = pytest.mark.django_db
ALPHA = {"HTTP_HOST": "alpha.localhost"}
CHANGE = "/admin/documents/document/{pk}/change/"


@pytest.fixture
def admin_client(client, tenant_alpha):
    with schema_context("alpha"):
        client.force_login(User.objects.get(username="admin"))
    return client


@pytest.fixture
def shared_document(tenant_alpha):
    with schema_context("alpha"):
        owner = User.objects.create_user(username="owner", password="a long enough password")
        document = indexed_document(
            owner=owner, title="Pay scales", texts=["Grade 7 earns 70k."], visible_to_tenant=True
        )
    return document


def _chunk_inline(document: Document) -> dict:
    """The read-only chunk inline's management form, as the browser posts it back."""
    with schema_context("alpha"):
        ids = list(Chunk.objects.filter(document=document).order_by("ordinal").values_list("pk", flat=True))
    rows = {f"chunks-{index}-id": chunk_id for index, chunk_id in enumerate(ids)}
    rows |= {f"chunks-{index}-document": document.pk for index in range(len(ids))}
    return {"chunks-TOTAL_FORMS": len(ids), "chunks-INITIAL_FORMS": len(ids), **rows}


def test_unticking_visible_to_tenant_in_the_admin_withdraws_the_document_at_once(admin_client, shared_document):
    with new_events() as events:
        response = admin_client.post(
            CHANGE.format(pk=shared_document.pk),
            {"title": "Pay scales (HR only)", "_save": "Save", **_chunk_inline(shared_document)},
            **ALPHA,
        )

    assert response.status_code == 302, response.content.decode()[:2000]
    with schema_context("alpha"):
        document = Document.objects.get(pk=shared_document.pk)
        chunk_acls = list(Chunk.objects.filter(document=document).values_list("acl", flat=True))
    assert (document.title, document.visible_to_tenant) == ("Pay scales (HR only)", False)
    assert TENANT_WIDE not in document.acl
    assert chunk_acls
    assert all(TENANT_WIDE not in acl for acl in chunk_acls)
    assert "acl.revoke" in events.actions()


def test_deleting_a_document_in_the_admin_runs_the_delete_service(admin_client, shared_document):
    with schema_context("alpha"):
        version_before = current_index_version()
        assert get_perms(shared_document.uploaded_by, shared_document)

    response = admin_client.post(f"/admin/documents/document/{shared_document.pk}/delete/", {"post": "yes"}, **ALPHA)

    assert response.status_code == 302
    with schema_context("alpha"):
        assert not Document.objects.filter(pk=shared_document.pk).exists()
        assert current_index_version() > version_before  # cached answers citing it are not replayed
        from guardian.models import UserObjectPermission

        assert not UserObjectPermission.objects.filter(object_pk=str(shared_document.pk)).exists()


def test_the_bulk_delete_action_runs_the_delete_service_for_each(admin_client, shared_document):
    with schema_context("alpha"):
        version_before = current_index_version()
    response = admin_client.post(
        "/admin/documents/document/",
        {"action": "delete_selected", "_selected_action": [shared_document.pk], "post": "yes"},
        **ALPHA,
    )

    assert response.status_code == 302
    with schema_context("alpha"):
        assert not Document.objects.filter(pk=shared_document.pk).exists()
        assert current_index_version() > version_before


def test_documents_cannot_be_added_in_the_admin(admin_client, tenant_alpha):
    assert admin_client.get("/admin/documents/document/add/", **ALPHA).status_code == 403


def test_no_shared_table_keeps_the_task_arguments_of_every_tenant():
    from celery.backends.base import DisabledBackend

    from config.celery_app import app

    # Task results, when stored, named schemas, document ids and arguments of every tenant in the
    # public schema; nothing read them, so Celery keeps none.
    assert isinstance(app.backend, DisabledBackend)
    assert "django_celery_results" not in settings.INSTALLED_APPS


# How each registered admin writes. A new ModelAdmin fails the test below until it is listed here,
# with a reason that holds: its writes go through the owning service, it is read-only, it shows
# on the platform host only, or the model has no service (framework models, audited by auditlog).
SERVICE = "save and delete go through the owning service"
READ_ONLY = "read-only"
PUBLIC_ONLY = "platform host only"
FRAMEWORK = "framework model without a service of ours; changes audited by django-auditlog"
LOCKOUTS = "django-axes' sign-in records: deleting an attempt unlocks the name (an admin.delete audit event)"
ADMIN_WRITES = {
    Document: SERVICE,
    TenantSettings: SERVICE,
    Feedback: SERVICE,
    QueryLog: READ_ONLY,
    AuditEvent: READ_ONLY,
    Tenant: PUBLIC_ONLY,
    User: FRAMEWORK,
    Group: FRAMEWORK,
    AccessAttempt: LOCKOUTS,
    AccessFailureLog: LOCKOUTS,
    AccessLog: LOCKOUTS,
}


def _overrides(model_admin: admin.ModelAdmin, method: str) -> bool:
    return getattr(type(model_admin), method) is not getattr(admin.ModelAdmin, method)


def test_every_registered_admin_says_how_it_writes_and_keeps_to_it(rf, tenant_alpha):
    from auditlog.models import LogEntry

    registered = {model: model_admin for model, model_admin in admin.site._registry.items() if model is not LogEntry}
    assert LogEntry in admin.site._registry  # read-only through ComplianceAdmin, like AuditEvent
    unlisted = sorted(model.__name__ for model in registered if model not in ADMIN_WRITES)
    assert not unlisted, f"say how these admins write: {unlisted}"
    with schema_context("alpha"):
        superuser = User.objects.get(username="admin")
    request = rf.get("/admin/", HTTP_HOST="alpha.localhost")
    request.user = superuser
    request.tenant = tenant_alpha
    for model, rule in ADMIN_WRITES.items():
        model_admin = registered.get(model)
        if model_admin is None:
            continue  # Group may be unregistered by a deployment
        if rule == SERVICE:
            assert _overrides(model_admin, "save_model"), model.__name__
            if model_admin.has_delete_permission(request):
                assert _overrides(model_admin, "delete_model"), model.__name__
                assert _overrides(model_admin, "delete_queryset"), model.__name__
        elif rule in (READ_ONLY, PUBLIC_ONLY):
            assert not model_admin.has_add_permission(request), model.__name__
            assert not model_admin.has_change_permission(request), model.__name__
            assert not model_admin.has_delete_permission(request), model.__name__
