"""A tenant whose writes are frozen (it is being moved to another shard): reads go on, every write
answers 503 with Retry-After and changes nothing, background work waits; thawed, all is as before."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.documents.models import Document
from apps.ingestion import tasks
from apps.tenants.freeze import tenant_write_state, tenant_writes_freeze, tenant_writes_thaw
from apps.tenants.selectors import active_tenant_schemas

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen(tenant_alpha):
    tenant_writes_freeze(schema_name=tenant_alpha.schema_name, actor="test")
    yield tenant_alpha
    tenant_writes_thaw(schema_name=tenant_alpha.schema_name, actor="test")


def test_api_writes_are_refused_with_retry_after_and_reads_are_served(api_client, alpha_key, frozen):
    read = api_client.get("/api/v1/history", HTTP_X_API_KEY=alpha_key)
    assert read.status_code == 200
    asked = api_client.post(
        "/api/v1/query", {"question": "What is the refund policy?"}, content_type="application/json",
        HTTP_X_API_KEY=alpha_key,
    )  # fmt: skip
    assert asked.status_code == 503
    assert asked.json()["error"]["code"] == "tenant_moving"
    assert int(asked["Retry-After"]) > 0
    with schema_context(frozen.schema_name):
        assert not Document.objects.exists()
    uploaded = api_client.post("/api/v1/documents/ingest", {"files": [_file()]}, HTTP_X_API_KEY=alpha_key)
    assert uploaded.status_code == 503
    with schema_context(frozen.schema_name):
        assert not Document.objects.exists()  # nothing was stored


def test_pages_refuse_posts_by_host_and_still_show(frozen):
    client = Client(HTTP_HOST="alpha.localhost")
    assert client.get("/accounts/login/").status_code == 200
    posted = client.post("/accounts/login/", {"username": "x", "password": "y"})
    assert posted.status_code == 503
    assert "being moved" in posted.content.decode()
    assert posted["Retry-After"]


def test_thawed_the_tenant_takes_writes_again(api_client, alpha_key, tenant_alpha):
    tenant_writes_freeze(schema_name=tenant_alpha.schema_name, actor="test")
    tenant_writes_thaw(schema_name=tenant_alpha.schema_name, actor="test")
    uploaded = api_client.post("/api/v1/documents/ingest", {"files": [_file()]}, HTTP_X_API_KEY=alpha_key)
    assert uploaded.status_code == 202


def test_background_work_waits_for_a_frozen_tenant_and_is_dropped_for_an_absent_one(frozen, monkeypatch):
    sent = []
    task = SimpleNamespace(
        name="t", request=SimpleNamespace(kwargs={"schema_name": frozen.schema_name}),
        apply_async=lambda **kwargs: sent.append(kwargs),
    )  # fmt: skip
    assert tenant_write_state(frozen.schema_name) == "frozen"
    assert tasks.waits_for_move(task, schema_name=frozen.schema_name) is True
    assert sent == [{"kwargs": {"schema_name": frozen.schema_name}, "countdown": 15}]
    assert frozen.schema_name not in active_tenant_schemas(include_frozen=False)  # scheduled work skips it
    assert tasks.waits_for_move(task, schema_name="never_here") is True
    assert len(sent) == 1  # dropped, not sent again
    assert tenant_write_state("never_here") == "absent"


def _file():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("note.txt", b"A short note.", content_type="text/plain")
