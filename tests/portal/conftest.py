"""A committed tenant for the portal's tests: consumers run their queries on other threads (and
the browser tests in other processes), which cannot see a test's rolled-back transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.ingestion.models import IngestionJob
from apps.ingestion.services import UploadedFile, documents_upload
from apps.tenants.models import Tenant
from config.settings.environment import BASE_DIR
from tests.support.committed import committed_tenant

HANDBOOK = BASE_DIR / "docs" / "samples" / "handbook"


@dataclass(frozen=True)
class Site:
    tenant: Tenant
    host: str

    @property
    def schema(self) -> str:
        return self.tenant.schema_name

    @property
    def origin(self) -> str:
        return f"http://{self.host}"


@dataclass(frozen=True)
class Member:
    user: User
    session_key: str

    @property
    def cookie(self) -> str:
        return f"sessionid={self.session_key}"


@pytest.fixture(scope="session")
def site(django_db_setup, django_db_blocker) -> Iterator[Site]:
    """One committed tenant for the portal's and the browser's tests (provisioning takes seconds)."""
    with django_db_blocker.unblock(), committed_tenant("portal") as tenant:
        yield Site(tenant=tenant, host=tenant.domains.get().domain)


@pytest.fixture(scope="session")
def handbook(site, django_db_blocker) -> list[int]:
    """Two handbook documents, indexed (in-process) and visible to everyone in the site's tenant."""
    files = ("refund-policy.md", "leave-policy.md")
    with django_db_blocker.unblock(), schema_context(site.schema):
        jobs = documents_upload(
            uploads=[UploadedFile(filename=name, data=(HANDBOOK / name).read_bytes()) for name in files],
            uploaded_by=None,
            visible_to_tenant=True,
        )
        finished = IngestionJob.objects.filter(pk__in=[job.pk for job in jobs])
        assert set(finished.values_list("status", flat=True)) == {"succeeded"}
        return [job.document_id for job in finished]


def member_of(site: Site, *, superuser: bool = False, staff: bool = False, username: str | None = None) -> Member:
    """A committed user of the site's tenant, signed in (a real session row in the tenant's schema)."""
    with schema_context(site.schema):
        user = User.objects.create_user(
            username=username or f"user-{uuid.uuid4().hex[:8]}",
            password="a long test password",
            is_superuser=superuser,
            is_staff=staff,
        )
        client = Client(HTTP_HOST=site.host)
        client.force_login(user)
        return Member(user=user, session_key=client.cookies["sessionid"].value)


@pytest.fixture
def member(site, django_db_blocker) -> Member:
    with django_db_blocker.unblock():
        return member_of(site)


def ws_headers(site: Site, *, cookie: str = "", host: str | None = None, origin: str | None = None) -> list:
    headers = [(b"host", (host or site.host).encode()), (b"origin", (origin or site.origin).encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return headers
