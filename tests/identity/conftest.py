"""Fixtures for single sign-on and SCIM: a SCIM client speaking as identity providers do."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from apps.api.scim.tokens import scim_token_create
from apps.tenants.services import tenant_settings_update
from tests.api.conftest import SchemaKeepingClient
from tests.support.fake_oidc_provider import FakeOidcProvider

from .sso import SECRET_VARIABLE

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def scim_token(tenant, *, name: str = "Okta") -> str:
    with schema_context(tenant.schema_name):
        return scim_token_create(name=name, actor="test")[1]


class ScimClient:
    """Requests with `host=` and `token=`, bodies as application/scim+json (as Okta sends them)."""

    def __init__(self) -> None:
        self.client = SchemaKeepingClient()

    def call(self, method: str, path: str, body=None, *, host: str, token: str | None = None, data=None, **extra):
        headers = {"HTTP_HOST": host, **extra}
        if token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        if method == "get":
            return self.client.get(path, data=data, **headers)
        payload = json.dumps(body) if body is not None else ""
        return getattr(self.client, method)(path, payload, content_type="application/scim+json", **headers)

    def get(self, path, data=None, **kwargs):
        return self.call("get", path, data=data, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.call("post", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.call("put", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.call("patch", path, body, **kwargs)

    def delete(self, path, body=None, **kwargs):
        return self.call("delete", path, body, **kwargs)

    def generic(self, *args, **kwargs):
        return self.client.generic(*args, **kwargs)


def okta_user(name: str, **extra) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"{name}@example.com",
        "name": {"givenName": name.title(), "familyName": "Example"},
        "emails": [{"primary": True, "value": f"{name}@example.com", "type": "work"}],
        "active": True,
        **extra,
    }


@pytest.fixture
def scim() -> ScimClient:
    return ScimClient()


@pytest.fixture
def provider(tenant_alpha, monkeypatch):
    fake = FakeOidcProvider().start()
    monkeypatch.setenv(SECRET_VARIABLE, fake.client_secret)
    tenant_settings_update(
        schema_name=tenant_alpha.schema_name,
        actor="test",
        sso_issuer=fake.issuer,
        sso_client_id=fake.client_id,
        sso_client_secret_ref=f"env:{SECRET_VARIABLE}",
        sso_display_name="Example IdP",
    )
    yield fake
    fake.stop()


@pytest.fixture
def browser() -> SchemaKeepingClient:
    return SchemaKeepingClient()
