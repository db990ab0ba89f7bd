"""Fixtures for the API tests: users and keys in the session tenants, and a client that leaves the
test in the schema it was in (a request switches the connection to the caller's tenant)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from apps.accounts.models import User
from apps.accounts.roles import TENANT_ADMINS_GROUP
from apps.api.services import api_key_create
from apps.documents.models import Document
from apps.documents.services import document_access_grant
from apps.ingestion.graph_sync import documents_graph_sync
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, document_upload
from apps.tenants.context import in_tenant
from apps.tenants.models import Tenant
from tests.documents.factories import UserFactory
from tests.support.committed import committed_tenant

ALPHA_HOST = "alpha.localhost"
BETA_HOST = "beta.localhost"
PLATFORM_HOST = "testserver"
PASSWORD = "a long enough password"


class SchemaKeepingClient(APIClient):
    """An APIClient whose requests do not move the test's own connection to another schema."""

    def request(self, **kwargs):
        schema = connection.schema_name
        try:
            return super().request(**kwargs)
        finally:
            connection.set_schema(schema)


@pytest.fixture
def api_client() -> SchemaKeepingClient:
    return SchemaKeepingClient()


def tenant_user(tenant, *, admin: bool = False, **fields):
    with schema_context(tenant.schema_name):
        user = UserFactory(**fields)
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        if admin:
            user.groups.add(Group.objects.get(name=TENANT_ADMINS_GROUP))
    return user


def make_key(tenant, user, scopes=("query", "ingest"), **kwargs) -> str:
    """A real key, created by the service in the tenant's schema; returns the full key."""
    with schema_context(tenant.schema_name):
        created = api_key_create(
            tenant=tenant,
            user=user,
            created_by=kwargs.pop("created_by", user),
            name=kwargs.pop("name", "test key"),
            scopes=list(scopes),
            **kwargs,
        )
    return created.secret


@pytest.fixture
def alpha_user(tenant_alpha):
    return tenant_user(tenant_alpha)


@pytest.fixture
def alpha_admin(tenant_alpha):
    return tenant_user(tenant_alpha, admin=True)


@pytest.fixture
def beta_user(tenant_beta):
    return tenant_user(tenant_beta)


@pytest.fixture
def alpha_key(tenant_alpha, alpha_user) -> str:
    return make_key(tenant_alpha, alpha_user)


@pytest.fixture
def alpha_admin_key(tenant_alpha, alpha_admin) -> str:
    return make_key(tenant_alpha, alpha_admin, scopes=("query", "ingest", "admin"))


@pytest.fixture
def beta_key(tenant_beta, beta_user) -> str:
    return make_key(tenant_beta, beta_user)


# --- A committed corpus for the answer endpoints ------------------------------------------------
# Retrieval legs run in worker threads with their own connections, so these documents are really
# committed, in their own tenant (dropped at the end of the session), not in a test transaction.

HANDBOOK = Path(__file__).resolve().parents[2] / "docs" / "samples" / "handbook"
FALCON_MEMO = (
    "# Falcon refund exception\n\nUnder the confidential Falcon exception, platinum customers receive a full "
    "refund within 120 days of purchase. The Falcon exception is approved by the Chief Revenue Officer.\n"
)


@dataclass
class AnswerCorpus:
    tenant: Tenant
    host: str
    alice: User  # may view the confidential Falcon memo
    carol: User  # sees only what everyone sees
    alice_key: str
    carol_key: str
    falcon_memo_id: int


def _ingested(*, filename: str, data: bytes, visible_to_tenant: bool) -> int:
    job = document_upload(
        upload=UploadedFile(filename=filename, data=data), uploaded_by=None, visible_to_tenant=visible_to_tenant
    )
    run = ingestion_jobs_run(job_ids=[str(job.pk)])
    documents_graph_sync(document_ids=run.stored_document_ids)
    assert job.document_id is not None
    return job.document_id


@pytest.fixture(scope="session")
def answer_corpus(django_db_setup, django_db_blocker) -> Iterator[AnswerCorpus]:
    with django_db_blocker.unblock(), committed_tenant("api") as tenant:
        with in_tenant(tenant.schema_name):
            alice = User.objects.create_user(username="alice", password=PASSWORD)
            carol = User.objects.create_user(username="carol", password=PASSWORD)
            _ingested(
                filename="refund-policy.md", data=(HANDBOOK / "refund-policy.md").read_bytes(), visible_to_tenant=True
            )
            memo_id = _ingested(filename="falcon.md", data=FALCON_MEMO.encode(), visible_to_tenant=False)
            document_access_grant(document=Document.objects.get(pk=memo_id), principal=alice)
        yield AnswerCorpus(
            tenant=tenant,
            host=tenant.domains.get().domain,
            alice=alice,
            carol=carol,
            alice_key=make_key(tenant, alice, scopes=("query",)),
            carol_key=make_key(tenant, carol, scopes=("query",)),
            falcon_memo_id=memo_id,
        )


@pytest.fixture
def ask(answer_corpus, committed_db):
    """POST a question as alice (or `key=`) on the corpus tenant's host."""
    client = SchemaKeepingClient()

    def post(path: str = "/api/v1/query", *, key: str | None = None, **body):
        return client.post(
            path, body, format="json", HTTP_HOST=answer_corpus.host, HTTP_X_API_KEY=key or answer_corpus.alice_key
        )

    return post


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in raw.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events
