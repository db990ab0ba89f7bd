"""Single sign-on in Chromium against a real identity provider (node oidc-provider, started with the
test services), and deprovisioning over SCIM ending the open socket and the next request at once."""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path

import httpx
import pytest
from django.contrib.auth.models import Group
from django_tenants.utils import schema_context
from playwright.sync_api import Page, expect

from apps.accounts.directory import directory_group_ensure
from apps.accounts.models import User
from apps.api.scim.tokens import scim_token_create
from apps.documents.services import document_access_grant
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, documents_upload
from apps.tenants.selectors import tenant_settings_get
from apps.tenants.services import tenant_settings_update

from .test_portal_in_chromium import in_thread

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow, pytest.mark.usefixtures("committed_db")]

SSO_FIELDS = ("sso_issuer", "sso_client_id", "sso_client_secret_ref", "sso_display_name")


def _provider_account(groups: list[str]) -> tuple[str, str]:
    """A new person at the identity provider (it reads its accounts file on every sign-in)."""
    accounts_file = Path(os.environ["OIDC_DEV_ACCOUNTS_FILE"])
    login, password = f"nora{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    accounts = json.loads(accounts_file.read_text())
    accounts[login] = {"password": password, "email": f"{login}@example.com", "name": "Nora Example", "groups": groups}
    accounts_file.write_text(json.dumps(accounts))
    return login, password


def _sso_and_documents(site) -> dict:
    """The site's tenant signs in through the loopback provider; one document per directory group."""
    before = {name: getattr(tenant_settings_get(schema_name=site.schema), name) for name in SSO_FIELDS}
    tenant_settings_update(
        schema_name=site.schema,
        actor="test",
        sso_issuer=os.environ["OIDC_DEV_ISSUER"],
        sso_client_id=os.environ["OIDC_DEV_CLIENT_ID"],
        sso_client_secret_ref=_secret_installed(site.schema),
        sso_display_name="Example IdP",
    )
    suffix = secrets.token_hex(3)
    titles = {}
    with schema_context(site.schema):
        for group_name in ("Engineering", "Finance"):
            group = directory_group_ensure(group_name)
            name = f"{group_name.lower()}-{suffix}.md"
            body = f"# {group_name} notes {suffix}\n\nOnly {group_name} reads this page of notes.\n"
            upload = UploadedFile(filename=name, data=body.encode())
            job = documents_upload(uploads=[upload], uploaded_by=None, enqueue=False)[0]
            ingestion_jobs_run(job_ids=[str(job.pk)])
            job.refresh_from_db()
            assert job.document is not None
            document_access_grant(document=job.document, principal=group)
            titles[group_name] = f"{group_name} notes {suffix}"
        scim_token = scim_token_create(name="Okta", actor="test")[1]
    return {"before": before, "titles": titles, "scim_token": scim_token}


def _secret_installed(schema: str) -> str:
    """The loopback provider's client secret, as the tenant's own secrets file."""
    from django.conf import settings

    folder = Path(settings.OIDC_CLIENT_SECRETS_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / schema).write_text(Path(os.environ["OIDC_DEV_CLIENT_SECRET_FILE"]).read_text())
    return f"file:{schema}"


def _restore(site, before: dict) -> None:
    tenant_settings_update(schema_name=site.schema, actor="test", **before)
    with schema_context(site.schema):
        Group.objects.filter(name__in=["Engineering", "Finance"]).delete()


def _deprovision(portal, site, token: str, subject: str) -> int:
    """What Okta sends when someone leaves: PATCH active=false, to the live server."""
    user_id = in_thread(lambda: _user_id(site, subject))
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    response = httpx.patch(
        portal.url("127.0.0.1", f"/scim/v2/Users/{user_id}"),
        json=body,
        headers={"Host": site.host, "Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return user_id


def _wait_for(page: Page, predicate, *, seconds: float) -> bool:
    """Poll while Playwright's loop runs (socket events arrive only while it does)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        page.wait_for_timeout(100)
    return bool(predicate())


def _user_id(site, subject: str) -> int:
    with schema_context(site.schema):
        return User.objects.get(directory_identity__oidc_subject=subject).pk


def test_sign_in_through_the_provider_see_what_groups_allow_and_lose_access_when_deprovisioned(
    page: Page, site, portal
):
    setup = in_thread(_sso_and_documents, site)
    try:
        login, password = _provider_account(["Engineering"])
        sockets = []
        page.on("websocket", lambda socket: sockets.append(socket))

        page.goto("/accounts/login/")
        page.get_by_role("link", name="Sign in with Example IdP").click()
        expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/"))  # at the identity provider
        page.locator('input[name="login"]').fill(login)
        page.locator('input[name="password"]').fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/ask/$"))

        page.goto("/documents/")
        expect(page.get_by_role("link", name=setup["titles"]["Engineering"])).to_be_visible()
        expect(page.get_by_role("link", name=setup["titles"]["Finance"])).to_have_count(0)

        sockets.clear()  # sockets of pages navigated away from are never reported closed
        page.goto("/ask/")
        open_sockets = lambda: [ws for ws in sockets if "/ws/ask/" in ws.url and not ws.is_closed()]  # noqa: E731
        assert _wait_for(page, lambda: bool(open_sockets()), seconds=10)
        socket = open_sockets()[0]

        started = time.monotonic()
        _deprovision(portal, site, setup["scim_token"], login)
        # Well before the next heartbeat re-check (every 15 s) would have found it.
        assert _wait_for(page, socket.is_closed, seconds=5), "the open socket outlived the deprovisioning"
        assert time.monotonic() - started < 5

        page.goto("/documents/")
        expect(page).to_have_url(re.compile(r"/accounts/login/"))
    finally:
        in_thread(_restore, site, setup["before"])
