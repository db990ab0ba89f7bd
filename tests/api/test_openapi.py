"""The OpenAPI schema, its Swagger UI, and schemathesis driving every operation against it.

schemathesis calls the real application in-process over WSGI (same thread and database
connection, so the test's data is visible), authenticated with a real admin key, and checks that
no response is a 5xx and every response matches the schema (status, content type, body, headers).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django_tenants.utils import schema_context
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi import checks as openapi_checks

from tests.documents.factories import indexed_document

from .conftest import ALPHA_HOST, make_key, tenant_user

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def test_the_schema_describes_every_endpoint_with_error_shapes(api_client, tenant_alpha):
    response = api_client.get("/api/v1/schema/", {"format": "json"}, HTTP_HOST=ALPHA_HOST)

    assert response.status_code == 200
    schema = response.json()
    operations = {(method.upper(), path) for path, item in schema["paths"].items() for method in item}
    assert {
        ("POST", "/api/v1/query"),
        ("POST", "/api/v1/query/stream"),
        ("POST", "/api/v1/query/agent"),
        ("GET", "/api/v1/history"),
        ("POST", "/api/v1/feedback"),
        ("POST", "/api/v1/documents/ingest"),
        ("GET", "/api/v1/jobs/{job_id}"),
        ("GET", "/api/v1/documents"),
        ("GET", "/api/v1/documents/{document_id}"),
        ("DELETE", "/api/v1/documents/{document_id}"),
        ("PUT", "/api/v1/documents/{document_id}/permissions"),
        ("GET", "/api/v1/admin/api-keys"),
        ("POST", "/api/v1/admin/api-keys"),
        ("DELETE", "/api/v1/admin/api-keys/{key_id}"),
        ("GET", "/api/v1/admin/settings"),
        ("PATCH", "/api/v1/admin/settings"),
    } <= operations
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert {"401", "403", "429"} <= set(operation["responses"]), (method, path)
            assert operation["security"], (method, path)
    assert set(schema["components"]["securitySchemes"]) == {"apiKey", "bearerJwt", "portalSession"}
    assert schema["components"]["schemas"]["Error"]["properties"]["error"]


def test_swagger_ui_is_served_with_local_assets(api_client, tenant_alpha):
    response = api_client.get("/api/v1/docs/", HTTP_HOST=ALPHA_HOST)

    assert response.status_code == 200
    page = response.content.decode()
    # Content-hashed names from the collectstatic manifest, served by the portal itself.
    assert re.search(r"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle\.[0-9a-f]{12}\.js", page)
    assert "cdn" not in page.lower()
    assert "<script>" not in page  # the start-up script is a separate request (Content-Security-Policy)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/nothing-here", 404, "not_found"),
        ("get", "/api/v1/documents/not-a-number", 404, "not_found"),
        ("get", "/api/v1/documents/%0Aabc/permissions", 404, "not_found"),  # a newline (schemathesis found it)
        ("patch", "/api/v1/documents", 405, "method_not_allowed"),
    ],
)
def test_routing_errors_use_the_error_body(api_client, alpha_key, method, path, status, code):
    response = getattr(api_client, method)(path, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=alpha_key)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


DEEPLY_NESTED = b'{"question": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@pytest.mark.parametrize("body", [b"{not json", DEEPLY_NESTED], ids=["malformed", "nested-too-deeply"])
def test_malformed_json_is_400_in_the_error_body(api_client, alpha_admin_key, body):
    response = api_client.generic(
        "PATCH",
        "/api/v1/admin/settings",
        body,
        content_type="application/json",
        HTTP_HOST=ALPHA_HOST,
        HTTP_X_API_KEY=alpha_admin_key,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


# --- schemathesis ------------------------------------------------------------------------------

CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


def schema_as_served() -> dict:
    """The document /api/v1/schema/ serves, generated in-process (collection needs no database)."""
    generator = SchemaGenerator()
    return json.loads(OpenApiJsonRenderer().render(generator.get_schema(request=None, public=True)))


@pytest.fixture
def _requests_keep_the_test_connection() -> Iterator[None]:
    """Django's WSGI handler closes the connection after each request; the test's transaction lives
    on it, so do what Django's own test client does and skip that."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def test_schemathesis_runs_against_the_schema_the_api_serves(api_client, tenant_alpha):
    served = api_client.get("/api/v1/schema/", {"format": "json"}, HTTP_HOST=ALPHA_HOST).json()
    assert served == schema_as_served()


schema = schemathesis.openapi.from_dict(
    schema_as_served(), config=SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
)
schema.app = get_wsgi_application()


@pytest.fixture
def admin_key(tenant_alpha, settings) -> str:
    # Generous limits: schemathesis should explore the operations, not the 429 path.
    settings.API_RATE_LIMITS = {
        route_class: {**limits, "principal": {"capacity": 100_000, "refill_per_second": 1000.0}}
        for route_class, limits in settings.API_RATE_LIMITS.items()
    }
    admin = tenant_user(tenant_alpha, admin=True)
    with schema_context("alpha"):
        indexed_document(owner=admin, title="Refund policy", texts=["Refunds are possible within 30 days."])
    return make_key(tenant_alpha, admin, scopes=("query", "ingest", "admin"))


@schema.parametrize()
@hypothesis_settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@pytest.mark.usefixtures("_requests_keep_the_test_connection")
def test_every_operation_conforms_and_never_fails_with_5xx(case, admin_key):
    response = case.call(base_url=f"http://{ALPHA_HOST}", headers={"X-API-Key": admin_key})
    case.validate_response(response, checks=CHECKS)
