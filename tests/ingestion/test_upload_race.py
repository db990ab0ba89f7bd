"""Two uploads of one file at the same moment make one document (issue 26, case 8).

Each upload runs in its own thread with its own database connection and commits for real. The
look-up of existing documents is slowed down so both uploads are always inside the window between
"is it here?" and the insert at once: without the database making the two one step, every run of
these tests makes two documents.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from apps.documents.models import Document
from apps.ingestion import services as ingestion_services
from apps.ingestion.models import IngestionJob
from apps.ingestion.services import UploadedFile, documents_upload
from tests.documents.factories import UserFactory
from tests.support.committed import committed_tenant

pytestmark = [pytest.mark.integration]

LOOKUP_DELAY_SECONDS = 0.4


@pytest.fixture(scope="module")
def tenant(django_db_setup, django_db_blocker):
    """One committed tenant for the module (provisioning one takes seconds); each test uploads
    contents of its own and counts only those."""
    with django_db_blocker.unblock(), committed_tenant("race") as tenant:
        yield tenant


@pytest.fixture
def in_tenant_db(tenant, django_db_blocker):
    with django_db_blocker.unblock(), schema_context(tenant.schema_name):
        yield


@pytest.fixture
def slow_lookup(monkeypatch) -> None:
    looked_up = ingestion_services._visible_duplicates

    def slowly(**kwargs):
        found = looked_up(**kwargs)
        time.sleep(LOOKUP_DELAY_SECONDS)
        return found

    monkeypatch.setattr(ingestion_services, "_visible_duplicates", slowly)


def at_once(schema_name: str, *uploads: Callable[[], list[IngestionJob]]) -> list[list[IngestionJob]]:
    """Run each upload in its own thread (own connection), all released together; an upload that
    raised raises here."""
    start = threading.Barrier(len(uploads))

    def run(upload: Callable[[], list[IngestionJob]]) -> list[IngestionJob]:
        try:
            with schema_context(schema_name):
                start.wait(timeout=10)
                return upload()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(uploads)) as pool:
        futures = [pool.submit(run, upload) for upload in uploads]
        return [future.result(timeout=30) for future in futures]


def uploader(user, data: bytes, *, external_id: str | None = None, visible: bool = False):
    def upload() -> list[IngestionJob]:
        file = UploadedFile(filename="policy.txt", data=data, external_id=external_id)
        return documents_upload(uploads=[file], uploaded_by=user, visible_to_tenant=visible, enqueue=False)

    return upload


@pytest.fixture
def users(in_tenant_db) -> tuple:
    return UserFactory(), UserFactory()


def documents_holding(data: bytes):
    return Document.objects.filter(versions__content_hash=hashlib.sha256(data).hexdigest()).distinct()


def test_the_same_new_file_uploaded_twice_at_once_is_one_document(tenant, users, slow_lookup):
    owner, _ = users
    data = b"Refunds over 5000 EUR need the finance director's approval."

    results = at_once(tenant.schema_name, uploader(owner, data), uploader(owner, data), uploader(owner, data))

    statuses = sorted(jobs[0].status for jobs in results)
    assert statuses == [IngestionJob.Status.QUEUED, IngestionJob.Status.SKIPPED, IngestionJob.Status.SKIPPED]
    document = documents_holding(data).get()
    assert {
        job.document_id for job in IngestionJob.objects.filter(content_hash=document.versions.get().content_hash)
    } == {document.pk}


def test_a_file_shared_with_the_tenant_is_one_document_when_a_colleague_uploads_it_at_the_same_moment(
    tenant, users, slow_lookup
):
    first, second = users
    data = b"The office opens at 08:00."

    at_once(tenant.schema_name, uploader(first, data, visible=True), uploader(second, data, visible=True))

    assert documents_holding(data).count() == 1


def test_two_versions_of_one_external_id_uploaded_at_once_are_two_versions_of_one_document(tenant, users, slow_lookup):
    owner, _ = users

    at_once(
        tenant.schema_name,
        uploader(owner, b"Leave: 25 days a year.", external_id="hr-leave"),
        uploader(owner, b"Leave: 28 days a year.", external_id="hr-leave"),
    )

    document = Document.objects.get(external_id="hr-leave")
    assert sorted(document.versions.values_list("number", flat=True)) == [1, 2]
