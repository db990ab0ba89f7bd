"""Documents and jobs over the API: upload, follow the job, list, read, delete, share."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context
from guardian.shortcuts import get_perms

from apps.audit.models import AuditEvent
from apps.documents.models import Document
from apps.documents.services import document_access_grant
from apps.ingestion.models import IngestionJob
from apps.ingestion.pipeline import ingestion_jobs_run
from tests.documents.factories import GroupFactory, indexed_document

from .conftest import ALPHA_HOST, SchemaKeepingClient, make_key, tenant_user

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

REFUNDS = b"# Refund policy\n\nCustomers may request a full refund within 30 days of purchase.\n"


def upload(name: str, data: bytes, content_type: str = "text/markdown") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def client(alpha_key):
    """The alpha user's own client; `api_client` stays free for other credentials."""
    own = SchemaKeepingClient()
    own.credentials(HTTP_X_API_KEY=alpha_key, HTTP_HOST=ALPHA_HOST)
    return own


def test_ingest_queues_one_job_per_file_and_the_job_can_be_followed(client, alpha_user):
    response = client.post(
        "/api/v1/documents/ingest",
        {"files": [upload("refunds.md", REFUNDS), upload("notes.txt", b"Team notes.", "text/plain")]},
        format="multipart",
    )

    assert response.status_code == 202, response.json()
    jobs = response.json()["jobs"]
    assert [(job["filename"], job["status"]) for job in jobs] == [("refunds.md", "queued"), ("notes.txt", "queued")]
    assert jobs[0]["status_url"].endswith(f"/api/v1/jobs/{jobs[0]['job_id']}")

    with schema_context("alpha"):
        ingestion_jobs_run(job_ids=[jobs[0]["job_id"]])  # what the worker does once the upload commits
    followed = client.get(f"/api/v1/jobs/{jobs[0]['job_id']}").json()
    assert followed["status"] == "succeeded"
    assert followed["progress"] == 1.0
    assert followed["attempts"] == 1
    assert followed["error"] is None
    assert followed["chunk_count"] >= 1
    document = client.get(f"/api/v1/documents/{followed['document_id']}").json()
    assert (document["title"], document["status"], document["media_type"]) == (
        "Refund policy",
        "indexed",
        "text/markdown",
    )


def test_a_failed_job_says_why(client):
    job_id = client.post(
        "/api/v1/documents/ingest", {"files": [upload("scan.pdf", b"%PDF-1.4 broken", "application/pdf")]}
    ).json()["jobs"][0]["job_id"]
    with schema_context("alpha"):
        ingestion_jobs_run(job_ids=[job_id])

    job = client.get(f"/api/v1/jobs/{job_id}").json()
    assert job["status"] == "failed"
    assert job["error"]["code"]
    assert "Upload the full file again" in job["error"]["message"]


def test_a_file_over_the_limit_is_413_and_nothing_is_stored(client, settings):
    settings.INGESTION_MAX_UPLOAD_BYTES = 1024
    response = client.post("/api/v1/documents/ingest", {"files": [upload("big.txt", b"x" * 2048, "text/plain")]})

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert "big.txt" in response.json()["error"]["message"]
    with schema_context("alpha"):
        assert not IngestionJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "files"),
        ({"files": "not a file"}, "files"),
        ({"files": [upload("a.txt", b"a")], "visible_to_tenant": "maybe"}, "visible_to_tenant"),
    ],
)
def test_bad_uploads_are_400_with_the_field(client, body, field):
    response = client.post("/api/v1/documents/ingest", body)
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_an_empty_file_is_400_and_nothing_is_stored(client):
    response = client.post("/api/v1/documents/ingest", {"files": [upload("ok.txt", b"fine"), upload("empty.txt", b"")]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "empty_file"
    with schema_context("alpha"):
        assert not Document.objects.exists()


def test_too_many_files_is_400(client, settings):
    settings.API_INGEST_MAX_FILES = 2
    files = [upload(f"{n}.txt", f"file {n}".encode(), "text/plain") for n in range(3)]
    response = client.post("/api/v1/documents/ingest", {"files": files})
    assert response.status_code == 400
    assert "at most 2" in str(response.json()["error"]["details"]["files"])


def test_json_is_415_on_the_upload_route(client):
    response = client.post("/api/v1/documents/ingest", {"files": []}, format="json")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_jobs_of_other_users_are_404_and_admins_see_all(api_client, client, tenant_alpha, alpha_admin):
    job_id = client.post("/api/v1/documents/ingest", {"files": [upload("a.txt", b"abc", "text/plain")]}).json()["jobs"][
        0
    ]["job_id"]
    other = make_key(tenant_alpha, tenant_user(tenant_alpha))
    admin = make_key(tenant_alpha, alpha_admin)

    assert api_client.get(f"/api/v1/jobs/{job_id}", HTTP_X_API_KEY=other, HTTP_HOST=ALPHA_HOST).status_code == 404
    assert api_client.get(f"/api/v1/jobs/{job_id}", HTTP_X_API_KEY=admin, HTTP_HOST=ALPHA_HOST).status_code == 200
    missing = client.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


@pytest.fixture
def library(alpha_user):
    """Five documents the user can see (two failed, one PDF) and one they cannot."""
    with schema_context("alpha"):
        visible = [indexed_document(owner=alpha_user, title=f"Doc {n}", texts=[f"text {n}"]) for n in range(5)]
        Document.objects.filter(pk__in=[visible[0].pk, visible[1].pk]).update(status=Document.Status.FAILED)
        Document.objects.filter(pk=visible[2].pk).update(media_type="application/pdf")
        Document.objects.filter(pk=visible[4].pk).update(created_at=timezone.now() - timedelta(days=10))
        hidden = indexed_document(owner=None, title="Board minutes", texts=["confidential"])
    return visible, hidden


def test_documents_are_paged(client, library):
    first = client.get("/api/v1/documents", {"page_size": 2}).json()
    last = client.get("/api/v1/documents", {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5
    assert [d["title"] for d in first["results"]] == ["Doc 3", "Doc 2"]
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert [d["title"] for d in last["results"]] == ["Doc 4"]
    assert last["next"] is None
    beyond = client.get("/api/v1/documents", {"page_size": 2, "page": 4})
    assert beyond.status_code == 404
    assert beyond.json()["error"]["code"] == "not_found"


def test_documents_filter_by_type_status_and_date(client, library):
    def titles(**params):
        response = client.get("/api/v1/documents", params)
        assert response.status_code == 200, response.json()
        return sorted(d["title"] for d in response.json()["results"])

    assert titles(type="application/pdf") == ["Doc 2"]
    assert titles(status="failed") == ["Doc 0", "Doc 1"]
    assert titles(created_before=(timezone.now() - timedelta(days=1)).isoformat()) == ["Doc 4"]
    assert titles(created_after=(timezone.now() - timedelta(days=1)).isoformat(), status="indexed") == [
        "Doc 2",
        "Doc 3",
    ]


@pytest.mark.parametrize("params", [{"status": "lost"}, {"created_after": "yesterday"}, {"page_size": "many"}])
def test_bad_filters_are_400(client, library, params):
    response = client.get("/api/v1/documents", params)
    if "page_size" in params:  # DRF ignores an unreadable page size and uses the default
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == set(params)


def test_a_document_you_may_not_see_is_404_like_a_missing_one(client, library):
    _, hidden = library
    for document_id in (hidden.pk, 10**9):
        for method in ("get", "delete"):
            response = getattr(client, method)(f"/api/v1/documents/{document_id}")
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not_found"
        response = client.put(
            f"/api/v1/documents/{document_id}/permissions",
            {"visible_to_tenant": True, "users": [], "groups": []},
            format="json",
        )
        assert response.status_code == 404


def test_the_owner_deletes_a_document_and_the_deletion_is_audited(client, library):
    visible, _ = library
    response = client.delete(f"/api/v1/documents/{visible[3].pk}")

    assert response.status_code == 204
    assert client.get(f"/api/v1/documents/{visible[3].pk}").status_code == 404
    with schema_context("alpha"):
        assert AuditEvent.objects.filter(action="document.delete", target_id=str(visible[3].pk)).exists()


def test_a_reader_may_not_delete_or_share(api_client, tenant_alpha, alpha_user):
    with schema_context("alpha"):
        shared = indexed_document(owner=alpha_user, title="Handbook", texts=["welcome"], visible_to_tenant=True)
    reader = make_key(tenant_alpha, tenant_user(tenant_alpha))

    deleted = api_client.delete(f"/api/v1/documents/{shared.pk}", HTTP_X_API_KEY=reader, HTTP_HOST=ALPHA_HOST)
    shared_out = api_client.put(
        f"/api/v1/documents/{shared.pk}/permissions",
        {"visible_to_tenant": False, "users": [], "groups": []},
        format="json",
        HTTP_X_API_KEY=reader,
        HTTP_HOST=ALPHA_HOST,
    )
    assert deleted.status_code == 403
    assert shared_out.status_code == 403
    with schema_context("alpha"):
        assert Document.objects.filter(pk=shared.pk, visible_to_tenant=True).exists()


def test_permissions_are_replaced_whole_take_effect_at_once_and_are_audited(
    client, api_client, tenant_alpha, alpha_user
):
    colleague = tenant_user(tenant_alpha)
    colleague_key = make_key(tenant_alpha, colleague)
    with schema_context("alpha"):
        document = indexed_document(owner=alpha_user, title="Plan", texts=["the plan"])
        group = GroupFactory(name="Finance")

    def colleague_sees() -> int:
        return api_client.get(
            f"/api/v1/documents/{document.pk}", HTTP_X_API_KEY=colleague_key, HTTP_HOST=ALPHA_HOST
        ).status_code

    assert colleague_sees() == 404
    granted = client.put(
        f"/api/v1/documents/{document.pk}/permissions",
        {
            "visible_to_tenant": False,
            "users": [
                {
                    "username": alpha_user.username,
                    "permissions": ["view_document", "change_document", "delete_document"],
                },
                {"username": colleague.username, "permissions": ["view_document"]},
            ],
            "groups": [{"name": "Finance", "permissions": ["view_document"]}],
        },
        format="json",
    )
    assert granted.status_code == 200, granted.json()
    assert {"username": colleague.username, "permissions": ["view_document"]} in granted.json()["users"]
    assert granted.json()["groups"] == [{"name": "Finance", "permissions": ["view_document"]}]
    assert colleague_sees() == 200
    with schema_context("alpha"):
        assert f"group:{group.pk}" in Document.objects.get(pk=document.pk).acl

    revoked = client.put(
        f"/api/v1/documents/{document.pk}/permissions",
        {
            "visible_to_tenant": False,
            "users": [{"username": alpha_user.username, "permissions": ["view_document", "change_document"]}],
            "groups": [],
        },
        format="json",
    )
    assert revoked.status_code == 200
    assert colleague_sees() == 404
    assert client.get(f"/api/v1/documents/{document.pk}/permissions").json()["users"] == [
        {"username": alpha_user.username, "permissions": ["change_document", "view_document"]}
    ]
    with schema_context("alpha"):
        actions = list(AuditEvent.objects.filter(action__startswith="acl.").values_list("action", flat=True))
    assert actions.count("acl.grant") == 2
    assert actions.count("acl.revoke") == 3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "visible_to_tenant": True,
                "users": [{"username": "ghost", "permissions": ["view_document"]}],
                "groups": [],
            },
            "users",
        ),
        (
            {"visible_to_tenant": True, "users": [], "groups": [{"name": "Nope", "permissions": ["view_document"]}]},
            "groups",
        ),
        (
            {"visible_to_tenant": True, "users": [{"username": "x", "permissions": ["own_document"]}], "groups": []},
            "users",
        ),
        ({"users": [], "groups": []}, "visible_to_tenant"),
    ],
)
def test_bad_permission_changes_are_400_and_change_nothing(client, alpha_user, body, field):
    with schema_context("alpha"):
        document = indexed_document(owner=alpha_user, title="Plan", texts=["the plan"])
    response = client.put(f"/api/v1/documents/{document.pk}/permissions", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
    with schema_context("alpha"):
        assert not Document.objects.get(pk=document.pk).visible_to_tenant


def test_an_oversized_request_is_413_before_it_is_read(client, settings):
    settings.INGESTION_MAX_UPLOAD_BYTES = 1024
    settings.API_INGEST_MAX_FILES = 2
    response = client.post("/api/v1/documents/ingest", {"files": [upload("big.txt", b"x" * 70_000, "text/plain")]})

    assert response.status_code == 413
    assert "larger than 2 files" in response.json()["error"]["message"]


EVERY_RIGHT = ["view_document", "change_document", "delete_document"]


def test_a_co_editor_cannot_grant_the_right_to_delete_they_do_not_hold(api_client, tenant_alpha, alpha_user):
    """Third re-test: a user with view and change on a document gave himself, and a whole group,
    the right to delete it."""
    editor = tenant_user(tenant_alpha)
    editor_key = make_key(tenant_alpha, editor)
    with schema_context("alpha"):
        document = indexed_document(owner=alpha_user, title="Roadmap", texts=["the roadmap"])
        document_access_grant(document=document, principal=editor, permissions=["view_document", "change_document"])

    response = api_client.put(
        f"/api/v1/documents/{document.pk}/permissions",
        {
            "visible_to_tenant": False,
            "users": [
                {
                    "username": alpha_user.username,
                    "permissions": ["view_document", "change_document", "delete_document"],
                },
                {"username": editor.username, "permissions": ["view_document", "change_document", "delete_document"]},
            ],
            "groups": [],
        },
        format="json",
        HTTP_X_API_KEY=editor_key,
        HTTP_HOST=ALPHA_HOST,
    )

    assert response.status_code == 403
    with schema_context("alpha"):
        assert "delete_document" not in get_perms(editor, document)
