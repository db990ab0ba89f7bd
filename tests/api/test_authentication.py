"""API keys and sessions: 401 for no or bad credentials, 403 for too little, tenants kept apart."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import HttpRequest
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.api.key_material import secret_digest
from apps.api.models import ApiKey
from apps.api.services import api_key_revoke
from tests.documents.factories import UserFactory, indexed_document

from .conftest import ALPHA_HOST, PASSWORD, PLATFORM_HOST, make_key

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

DOCUMENTS = "/api/v1/documents"


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_no_credential_is_401_with_a_challenge(api_client, tenant_alpha):
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST)

    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication credentials were not provided.",
            "details": {},
        }
    }
    assert "ApiKey" in response["WWW-Authenticate"]


@pytest.mark.parametrize(
    "presented",
    ["nonsense", "kp_000000000000_" + "a" * 43, "", "kp_" + "f" * 12 + "_" + "a" * 44],
)
def test_malformed_or_unknown_keys_are_401(api_client, tenant_alpha, presented):
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=presented)
    assert response.status_code == 401
    assert error_code(response) == "invalid_api_key"


def test_a_wrong_secret_with_a_real_prefix_is_401(api_client, alpha_key):
    tampered = alpha_key[:-1] + ("A" if alpha_key[-1] != "A" else "B")
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=tampered)
    assert response.status_code == 401
    assert error_code(response) == "invalid_api_key"


def test_only_a_digest_of_the_secret_is_stored(alpha_key):
    prefix, secret = alpha_key.split("_", 2)[1:]
    key = ApiKey.objects.get(prefix=prefix)
    assert key.secret_hash == secret_digest(secret)
    assert secret not in str(ApiKey.objects.filter(pk=key.pk).values().first())


def test_a_valid_key_works_on_its_tenant_host_and_records_its_use(api_client, alpha_key):
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=alpha_key)

    assert response.status_code == 200
    assert ApiKey.objects.get(prefix=alpha_key.split("_")[1]).last_used_at is not None


def test_expired_keys_are_401(api_client, alpha_key):
    ApiKey.objects.filter(prefix=alpha_key.split("_")[1]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=alpha_key)
    assert response.status_code == 401
    assert error_code(response) == "api_key_expired"


def test_revoked_keys_are_401_from_the_next_request_on(api_client, alpha_key, alpha_user):
    """The key was just used (so it sits in the process cache): revocation still counts at once."""
    assert api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=alpha_key).status_code == 200
    api_key_revoke(key=ApiKey.objects.get(prefix=alpha_key.split("_")[1]), actor=alpha_user)
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=alpha_key)
    assert response.status_code == 401
    assert error_code(response) == "api_key_revoked"


def test_a_key_whose_user_was_deactivated_is_401(api_client, alpha_user, alpha_key):
    assert api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=alpha_key).status_code == 200
    with schema_context("alpha"):
        alpha_user.is_active = False
        alpha_user.save(update_fields=["is_active"])
    assert api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=alpha_key).status_code == 401


def test_a_key_without_the_scope_is_403(api_client, tenant_alpha, alpha_user):
    query_only = make_key(tenant_alpha, alpha_user, scopes=("query",))
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=query_only)
    assert response.status_code == 403
    assert error_code(response) == "insufficient_scope"


def test_a_key_of_another_tenant_is_refused_on_this_tenants_host(api_client, beta_key):
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, HTTP_X_API_KEY=beta_key)
    assert response.status_code == 403
    assert error_code(response) == "wrong_tenant"


def test_on_the_platform_host_each_key_sees_only_its_own_tenant(api_client, alpha_user, alpha_key, beta_key):
    with schema_context("alpha"):
        secret = indexed_document(owner=alpha_user, title="Alpha secret plan", texts=["alpha only"])

    alpha_view = api_client.get(DOCUMENTS, HTTP_HOST=PLATFORM_HOST, HTTP_X_API_KEY=alpha_key)
    beta_view = api_client.get(DOCUMENTS, HTTP_HOST=PLATFORM_HOST, HTTP_X_API_KEY=beta_key)
    beta_direct = api_client.get(f"{DOCUMENTS}/{secret.pk}", HTTP_HOST=PLATFORM_HOST, HTTP_X_API_KEY=beta_key)

    assert [d["title"] for d in alpha_view.json()["results"]] == ["Alpha secret plan"]
    assert beta_view.json()["results"] == []
    assert beta_direct.status_code == 404


def test_the_portal_session_works_on_its_tenant_host_with_csrf_enforced(tenant_alpha, alpha_user):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    with schema_context("alpha"):  # the session lives in the tenant's schema
        assert client.login(request=sign_in_request(), username=alpha_user.username, password=PASSWORD)

    listed = client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST)
    no_csrf = client.post("/api/v1/documents/ingest", {}, HTTP_HOST=ALPHA_HOST)

    assert listed.status_code == 200
    assert no_csrf.status_code == 403
    assert "CSRF" in no_csrf.json()["error"]["message"]


def test_a_platform_staff_session_grants_nothing_on_the_api(api_client, tenant_alpha):
    with schema_context("public"):
        staff = UserFactory(is_staff=True, is_superuser=True)
        staff.set_password(PASSWORD)
        staff.save()
        assert api_client.login(request=sign_in_request(), username=staff.username, password=PASSWORD)

    response = api_client.get(DOCUMENTS, HTTP_HOST=PLATFORM_HOST)
    assert response.status_code == 401


def sign_in_request() -> HttpRequest:
    """django-axes checks every password sign-in against its lockouts, which needs the request."""
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = "127.0.0.1"
    return request
