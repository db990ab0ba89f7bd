"""Documents pages: list and search what the user may view, upload, passages, and managing viewers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from apps.accounts.roles import TENANT_ADMINS_GROUP
from apps.documents.acl import user_principal
from apps.documents.models import Document
from apps.ingestion.models import IngestionJob
from tests.documents.factories import GroupFactory, UserFactory, indexed_document

pytestmark = pytest.mark.django_db

HOST = "alpha.localhost"


def person():
    user = UserFactory()
    user.save()  # the factory sets the password without saving it; the session hash needs it stored
    return user


def signed_in(user) -> Client:
    client = Client(HTTP_HOST=HOST)
    client.force_login(user)
    return client


@pytest.fixture
def people(in_alpha):
    return {"owner": person(), "colleague": person(), "outsider": person()}


@pytest.fixture
def library(people):
    return {
        "refunds": indexed_document(
            owner=people["owner"],
            title="Refund policy",
            texts=["Refunds within 30 days.", "Chargebacks go to Finance."],
        ),
        "salaries": indexed_document(owner=people["owner"], title="Salary bands", texts=["Band A pays well."]),
        "handbook": indexed_document(owner=None, title="Employee handbook", texts=["Welcome."], visible_to_tenant=True),
    }


def test_pages_need_a_signed_in_user(in_alpha):
    response = Client(HTTP_HOST=HOST).get("/documents/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_list_shows_only_what_the_user_may_view_and_search_narrows_it(people, library):
    owner_page = signed_in(people["owner"]).get("/documents/").content.decode()
    assert all(title in owner_page for title in ("Refund policy", "Salary bands", "Employee handbook"))

    outsider_page = signed_in(people["outsider"]).get("/documents/").content.decode()
    assert "Employee handbook" in outsider_page
    assert "Refund policy" not in outsider_page
    assert "Salary bands" not in outsider_page

    searched = signed_in(people["owner"]).get("/documents/", {"q": "refund"}).content.decode()
    assert "Refund policy" in searched
    assert "Salary bands" not in searched


def test_a_document_page_shows_its_passages_with_anchors_and_hides_from_others(people, library):
    refunds = library["refunds"]
    chunk = refunds.chunks.order_by("ordinal").last()
    response = signed_in(people["owner"]).get(f"/documents/{refunds.pk}/", {"chunk": chunk.pk})
    page = response.content.decode()
    assert response.status_code == 200
    assert f'id="chunk-{chunk.pk}"' in page
    assert "chunk-cited" in page
    assert "Chargebacks go to Finance." in page
    # Forbidden and missing look the same.
    assert signed_in(people["outsider"]).get(f"/documents/{refunds.pk}/").status_code == 404
    assert signed_in(people["outsider"]).get("/documents/999999/").status_code == 404


def test_a_cited_passage_lands_on_its_page(people, in_alpha):
    long_document = indexed_document(owner=people["owner"], title="Long", texts=[f"Passage {n}." for n in range(130)])
    last = long_document.chunks.order_by("ordinal").last()
    page = signed_in(people["owner"]).get(f"/documents/{long_document.pk}/", {"chunk": last.pk}).content.decode()
    assert f'id="chunk-{last.pk}"' in page
    assert "Passage 129." in page
    assert "Page 2 of 2" in page


def test_uploading_several_files_queues_one_job_each_for_the_uploader(people):
    client = signed_in(people["colleague"])
    files = [
        SimpleUploadedFile("leave.md", b"# Leave\n\n28 days a year.", content_type="text/markdown"),
        SimpleUploadedFile("travel.txt", b"Book trains, not planes.", content_type="text/plain"),
    ]
    response = client.post("/documents/upload/", {"uploads": files})
    assert response.status_code == 302
    jobs = IngestionJob.objects.filter(created_by=people["colleague"])
    assert sorted(jobs.values_list("filename", flat=True)) == ["leave.md", "travel.txt"]
    page = client.get("/documents/upload/").content.decode()
    assert "leave.md" in page
    assert 'data-socket="/ws/jobs/"' in page
    assert not Document.objects.filter(visible_to_tenant=True, title="leave.md").exists()  # private unless asked


def test_bad_uploads_get_a_clear_error_and_store_nothing(people):
    client = signed_in(people["colleague"])
    empty = client.post("/documents/upload/", {"uploads": [SimpleUploadedFile("empty.txt", b"")]})
    assert empty.status_code == 400
    assert "empty" in empty.content.decode().lower()
    with override_settings(PORTAL_UPLOAD_MAX_FILES=1):
        files = [SimpleUploadedFile(f"{n}.txt", b"text") for n in range(2)]
        too_many = client.post("/documents/upload/", {"uploads": files})
    assert too_many.status_code == 400
    assert "at most 1 files" in too_many.content.decode()
    nothing = client.post("/documents/upload/", {})
    assert nothing.status_code == 400
    assert not IngestionJob.objects.filter(created_by=people["colleague"]).exists()


def test_the_owner_grants_and_revokes_a_user_and_a_group(people, library):
    refunds, owner, colleague = library["refunds"], people["owner"], people["colleague"]
    finance = GroupFactory(name="Finance")
    client = signed_in(owner)

    response = client.post(
        f"/documents/{refunds.pk}/access/", {"action": "grant", "kind": "user", "name": colleague.username}
    )
    assert response.status_code == 302
    refunds.refresh_from_db()
    assert user_principal(colleague.pk) in refunds.acl
    assert signed_in(colleague).get(f"/documents/{refunds.pk}/").status_code == 200

    client.post(f"/documents/{refunds.pk}/access/", {"action": "grant", "kind": "group", "name": "Finance"})
    page = client.get(f"/documents/{refunds.pk}/").content.decode()
    assert colleague.username in page
    assert "Finance" in page

    client.post(f"/documents/{refunds.pk}/access/", {"action": "revoke", "kind": "user", "name": colleague.username})
    assert signed_in(colleague).get(f"/documents/{refunds.pk}/").status_code == 404
    refunds.refresh_from_db()
    assert f"group:{finance.pk}" in refunds.acl

    client.post(f"/documents/{refunds.pk}/access/", {"action": "visibility", "visible_to_tenant": "on"})
    assert signed_in(people["outsider"]).get(f"/documents/{refunds.pk}/").status_code == 200


def test_unknown_names_are_refused_with_a_message(people, library):
    refunds = library["refunds"]
    response = signed_in(people["owner"]).post(
        f"/documents/{refunds.pk}/access/", {"action": "grant", "kind": "user", "name": "nobody-by-that-name"}
    )
    assert response.status_code == 400
    assert "There is no active user named nobody-by-that-name." in response.content.decode()
    bad_kind = signed_in(people["owner"]).post(
        f"/documents/{refunds.pk}/access/", {"action": "grant", "kind": "robot", "name": "x"}
    )
    assert bad_kind.status_code == 400


def test_only_owners_and_admins_manage_viewers(people, library):
    handbook, refunds = library["handbook"], library["refunds"]
    outsider = people["outsider"]
    # Everyone may view the handbook, but viewing is not managing.
    forbidden = signed_in(outsider).post(
        f"/documents/{handbook.pk}/access/", {"action": "grant", "kind": "user", "name": outsider.username}
    )
    assert forbidden.status_code == 403
    assert "Who may view this document" not in signed_in(outsider).get(f"/documents/{handbook.pk}/").content.decode()
    # A document they cannot see at all is a 404, as if it did not exist.
    hidden = signed_in(outsider).post(f"/documents/{refunds.pk}/access/", {"action": "visibility"})
    assert hidden.status_code == 404

    admin = person()
    admin.groups.add(Group.objects.get(name=TENANT_ADMINS_GROUP))  # every tenant starts with it
    allowed = signed_in(admin).post(
        f"/documents/{handbook.pk}/access/", {"action": "grant", "kind": "user", "name": outsider.username}
    )
    assert allowed.status_code == 302
