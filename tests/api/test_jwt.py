"""JWT bearer tokens: several active keys chosen by kid, rotation, and every way to forge one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from apps.api.jwt_tokens import verification_keys

from .conftest import ALPHA_HOST, BETA_HOST, PLATFORM_HOST
from .tokens import claims, ec_key, hmac_with_public_key_token, rsa_key, token, unsigned_token

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

DOCUMENTS = "/api/v1/documents"
OLD, NEW = rsa_key("2025-01"), ec_key("2025-07")


def bearer(value: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


@pytest.fixture(autouse=True)
def _two_active_keys(settings):
    settings.JWT_SIGNING_KEYS = [OLD.setting(), NEW.setting()]


def test_tokens_signed_by_either_active_key_are_accepted(api_client, alpha_user):
    for key in (OLD, NEW):
        response = api_client.get(
            DOCUMENTS, HTTP_HOST=ALPHA_HOST, **bearer(token(key, claims(sub=alpha_user.username, tenant="alpha")))
        )
        assert response.status_code == 200, (key.kid, response.json())


def test_rotation_retires_the_old_key_without_touching_new_tokens(api_client, alpha_user, settings):
    old_token = token(OLD, claims(sub=alpha_user.username, tenant="alpha"))
    new_token = token(NEW, claims(sub=alpha_user.username, tenant="alpha"))

    settings.JWT_SIGNING_KEYS = [NEW.setting()]

    refused = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, **bearer(old_token))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"
    assert "kid" in refused.json()["error"]["message"]
    assert api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, **bearer(new_token)).status_code == 200


def test_keys_load_from_files(api_client, alpha_user, settings, tmp_path):
    pem_file = tmp_path / "jwt-2025-07.pem"
    pem_file.write_text(NEW.public_pem)
    settings.JWT_SIGNING_KEYS = [{"kid": NEW.kid, "algorithm": "ES256", "public_key_file": str(pem_file)}]

    response = api_client.get(
        DOCUMENTS, HTTP_HOST=ALPHA_HOST, **bearer(token(NEW, claims(sub=alpha_user.username, tenant="alpha")))
    )
    assert response.status_code == 200


def test_the_token_names_its_tenant_so_the_platform_host_serves_it(api_client, alpha_user):
    response = api_client.get(
        DOCUMENTS, HTTP_HOST=PLATFORM_HOST, **bearer(token(OLD, claims(sub=alpha_user.username, tenant="alpha")))
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        pytest.param(
            lambda user: token(rsa_key("unknown"), claims(sub=user, tenant="alpha")), "invalid_token", id="unknown-kid"
        ),
        pytest.param(
            lambda user: token(OLD, claims(sub=user, tenant="alpha", lifetime=-120)), "token_expired", id="expired"
        ),
        pytest.param(
            lambda user: unsigned_token(claims(sub=user, tenant="alpha"), kid=OLD.kid), "invalid_token", id="alg-none"
        ),
        pytest.param(
            lambda user: hmac_with_public_key_token(OLD, claims(sub=user, tenant="alpha")),
            "invalid_token",
            id="hs-rs-confusion",
        ),
        pytest.param(
            lambda user: token(OLD, claims(sub=user, tenant="alpha"), headers={"kid": NEW.kid}),
            "invalid_token",
            id="key-of-other-algorithm",
        ),
        pytest.param(
            lambda user: token(OLD, {**claims(sub=user, tenant="alpha"), "aud": "someone-else"}),
            "invalid_token",
            id="wrong-audience",
        ),
        pytest.param(
            lambda user: token(OLD, {k: v for k, v in claims(sub=user, tenant="alpha").items() if k != "iat"}),
            "invalid_token",
            id="no-iat",
        ),
        pytest.param(lambda user: token(OLD, claims(sub=user, tenant="gamma")), "invalid_token", id="unknown-tenant"),
        pytest.param(
            lambda user: token(OLD, claims(sub="nobody", tenant="alpha")), "authentication_failed", id="unknown-user"
        ),
        pytest.param(lambda user: "not.a.jwt", "invalid_token", id="garbage"),
    ],
)
def test_forged_expired_or_foreign_tokens_are_401(api_client, alpha_user, make_token, code):
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, **bearer(make_token(alpha_user.username)))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert "Bearer" in response["WWW-Authenticate"]


def test_a_token_of_one_tenant_is_refused_on_another_tenants_host(api_client, alpha_user):
    response = api_client.get(
        DOCUMENTS, HTTP_HOST=BETA_HOST, **bearer(token(OLD, claims(sub=alpha_user.username, tenant="alpha")))
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "wrong_tenant"


def test_a_scope_claim_narrows_what_the_token_may_do(api_client, alpha_user):
    narrow = token(OLD, claims(sub=alpha_user.username, tenant="alpha", scope="query"))
    response = api_client.get(DOCUMENTS, HTTP_HOST=ALPHA_HOST, **bearer(narrow))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize(
    "entry",
    [
        {"kid": "h", "algorithm": "HS256", "public_key": "shared-secret"},
        {"kid": "r", "algorithm": "RS256", "public_key": NEW.public_pem},  # an EC key declared RS256
        {"algorithm": "RS256", "public_key": OLD.public_pem},
        {"kid": "f", "algorithm": "RS256", "public_key_file": "/nonexistent/key.pem"},
    ],
)
def test_misconfigured_keys_are_refused_loudly(entry):
    with override_settings(JWT_SIGNING_KEYS=[entry]), pytest.raises(ImproperlyConfigured):
        verification_keys()
