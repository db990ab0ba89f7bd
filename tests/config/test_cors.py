"""CORS allows only configured origins, the brief's methods and headers (roadmap 1.5)."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

ORIGIN = "https://intranet.example.com"


def preflight(client, origin: str, method: str = "POST", headers: str = "content-type"):
    return client.options(
        "/api/v1/query",
        HTTP_HOST="alpha.localhost",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_preflight_from_an_allowed_origin_lists_only_the_allowed_methods_and_headers(client, tenant_alpha):
    response = preflight(client, ORIGIN)
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert set(response["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert set(response["Access-Control-Allow-Headers"].split(", ")) == {"authorization", "content-type", "x-api-key"}
    assert "Access-Control-Allow-Credentials" not in response


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_other_origins_get_no_cors_headers(client, tenant_alpha):
    response = preflight(client, "https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in response
