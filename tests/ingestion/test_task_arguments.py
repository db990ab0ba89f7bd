"""Tasks carry ids, never ACLs: their arguments sit in the broker and in the result store (attack
pass, hole 4), and an ACL read when the task runs is the newest one anyway."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.documents.services import document_access_grant
from apps.ingestion import tasks
from tests.documents.factories import indexed_document

pytestmark = pytest.mark.django_db


def test_a_permission_change_enqueues_the_graph_sync_with_ids_only(
    tenant_alpha, monkeypatch, django_capture_on_commit_callbacks
):
    enqueued: list[dict] = []
    monkeypatch.setattr(tasks.sync_document_graph_acl, "delay", lambda **kwargs: enqueued.append(kwargs))
    with schema_context("alpha"):
        reader = User.objects.create_user(username="reader", password="a long enough password")
        document = indexed_document(owner=None, title="Minutes", texts=["Quarterly results."])
        with django_capture_on_commit_callbacks(execute=True):
            document_access_grant(document=document, principal=reader)

    assert enqueued
    assert set(enqueued[-1]) == {"schema_name", "document_id", "changed_at"}
    assert enqueued[-1]["document_id"] == document.pk
