"""The same retrieval asked at once by many runs once in the process, and only for the same principals."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import Group
from django.db import close_old_connections

from apps.accounts.models import User
from apps.documents.services import document_access_grant
from apps.retrieval import search
from apps.retrieval.search import RetrievalResult, retrieve
from apps.tenants.context import in_tenant
from tests.retrieval.corpus import document_ingest
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tenant_users(django_db_setup, django_db_blocker) -> Iterator[tuple[str, User, User]]:
    with django_db_blocker.unblock(), committed_tenant("same") as tenant, in_tenant(tenant.schema_name):
        auditors = Group.objects.create(name="Auditors")
        dana = User.objects.create_user(username="dana", password="x" * 16)
        dana.groups.add(auditors)
        erin = User.objects.create_user(username="erin", password="x" * 16)
        memo = document_ingest(
            filename="audit.md", text="# Audit memo\n\nThe Osprey audit closes on 12 March.", visible_to_tenant=False
        )
        guide = "# Guide\n\nAsk the Osprey team about audits."
        document_ingest(filename="guide.md", text=guide, visible_to_tenant=True)
        document_access_grant(document=memo, principal=auditors)
        yield tenant.schema_name, dana, erin


@pytest.fixture
def computed(monkeypatch) -> list[str]:
    """The queries actually retrieved (not shared or cached), with a pause so callers overlap."""
    seen: list[str] = []
    real = search._retrieve_uncached

    def slow_and_counted(**kwargs) -> RetrievalResult:
        seen.append(kwargs["query"])
        threading.Event().wait(0.3)
        return real(**kwargs)

    monkeypatch.setattr(search, "_retrieve_uncached", slow_and_counted)
    return seen


def ask_together(schema: str, users: list[User], query: str) -> list[RetrievalResult]:
    def ask(user: User) -> RetrievalResult:
        try:
            with in_tenant(schema):
                return retrieve(user=user, query=query, k=5)
        finally:
            close_old_connections()

    with ThreadPoolExecutor(len(users)) as pool:
        return list(pool.map(ask, users))


def test_eight_identical_questions_at_once_retrieve_once(tenant_users, committed_db, computed):
    schema, dana, _erin = tenant_users
    query = f"When does the Osprey audit close? {uuid.uuid4().hex[:6]}"  # cold: in no cache yet
    results = ask_together(schema, [dana] * 8, query)
    assert computed == [query]
    found = [[chunk.chunk_id for chunk in result.chunks] for result in results]
    assert found[0]
    assert all(ids == found[0] for ids in found)
    assert len({id(result.chunks[0]) for result in results}) == 8  # each caller has its own objects


def test_users_who_may_see_different_documents_never_share_a_retrieval(tenant_users, committed_db, computed):
    schema, dana, erin = tenant_users
    query = f"When does the Osprey audit close? {uuid.uuid4().hex[:6]}"
    dana_result, erin_result = ask_together(schema, [dana, erin], query)
    assert computed == [query, query]
    dana_documents = {chunk.document_id for chunk in dana_result.chunks}
    erin_documents = {chunk.document_id for chunk in erin_result.chunks}
    assert dana_documents - erin_documents  # the memo reached Dana only
