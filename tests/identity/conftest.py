"""Fixtures for single sign-on and SCIM: a SCIM client speaking as identity providers do."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from apps.api.scim.tokens import scim_token_create
from tests.api.conftest import SchemaKeepingClient

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


@pytest.fixture
def scim() -> ScimClient:
    return ScimClient()
