"""Single sign-on over OpenID Connect: the code flow with PKCE, state and nonce, every check of the
ID token, accounts and groups from its claims, and passwords switched off."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Group
from django_tenants.utils import schema_context

from apps.accounts.models import DirectoryIdentity, User
from apps.accounts.roles import TENANT_ADMINS_GROUP
from apps.audit.models import AuditEvent
from apps.tenants.services import tenant_settings_update
from tests.api.conftest import ALPHA_HOST, PASSWORD, tenant_user
from tests.support.fake_oidc_provider import FakeOidcProvider

from .sso import claims_for, sign_in, signed_in_as

pytestmark = pytest.mark.integration


def test_the_authorization_request_carries_state_nonce_and_an_s256_challenge(browser, provider):
    start = browser.get("/accounts/sso/start/", HTTP_HOST=ALPHA_HOST)
    location = urlsplit(start["Location"])
    params = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{provider.issuer}/auth"
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["code_challenge"][0]) >= 43
    assert params["state"][0]
    assert params["nonce"][0]
    assert params["client_id"] == ["portal"]
    assert params["redirect_uri"] == [f"http://{ALPHA_HOST}/accounts/oidc/callback/"]
    assert params["scope"][0].split() == ["openid", "email", "profile", "groups"]


def test_a_first_sign_in_creates_the_account_with_its_groups_and_lands_on_next(browser, provider, tenant_alpha):
    done = sign_in(browser, provider, claims_for("alice"), next_url="/documents/")
    assert done.status_code == 302
    assert done["Location"] == "/documents/"
    assert signed_in_as(browser) == "alice@example.com"
    assert provider.token_requests[-1]["code_verifier"]  # the code was redeemed with PKCE
    with schema_context(tenant_alpha.schema_name):
        user = User.objects.get(username="alice@example.com")
        assert not user.has_usable_password()
        assert user.first_name == "Alice"
        assert list(user.groups.values_list("name", flat=True)) == ["Engineering"]
        assert DirectoryIdentity.objects.get(user=user).oidc_subject == "00u-alice"
        event = AuditEvent.objects.filter(action="auth.sso.sign_in").latest("id")
        assert event.details["created"] is True
        assert event.details["groups"]["added"] == ["Engineering"]


def test_the_group_claim_sets_directory_groups_only_and_never_a_role(browser, provider, tenant_alpha):
    with schema_context(tenant_alpha.schema_name):
        hand_made = Group.objects.create(name="Book club")
    sign_in(browser, provider, claims_for("bea", groups=["Engineering", "Finance"]))
    with schema_context(tenant_alpha.schema_name):
        user = User.objects.get(username="bea@example.com")
        user.groups.add(hand_made)
    browser.logout()
    sign_in(browser, provider, claims_for("bea", groups=["Finance", TENANT_ADMINS_GROUP]))
    with schema_context(tenant_alpha.schema_name):
        names = set(User.objects.get(username="bea@example.com").groups.values_list("name", flat=True))
        assert names == {"Finance", "Book club"}
        event = AuditEvent.objects.filter(action="auth.sso.sign_in").latest("id")
        assert event.details["groups"] == {"added": [], "removed": ["Engineering"], "ignored": [TENANT_ADMINS_GROUP]}


def test_the_same_subject_signs_in_to_the_same_account_after_a_rename(browser, provider, tenant_alpha):
    sign_in(browser, provider, claims_for("cleo"))
    browser.logout()
    sign_in(browser, provider, claims_for("cleo", email="cleo.new@example.com", preferred_username="cleo.new"))
    with schema_context(tenant_alpha.schema_name):
        identity = DirectoryIdentity.objects.get(oidc_subject="00u-cleo")
        assert identity.user.email == "cleo.new@example.com"
        assert User.objects.filter(directory_identity__isnull=False).count() == 1


def test_a_rotated_signing_key_is_fetched_when_a_token_names_it(browser, provider):
    sign_in(browser, provider, claims_for("dave"))
    fetched = provider.jwks_fetches
    browser.logout()
    provider.rotate_key()
    done = sign_in(browser, provider, claims_for("dave"))
    assert done.status_code == 302
    assert signed_in_as(browser) == "dave@example.com"
    assert provider.jwks_fetches == fetched + 1


def _refusal(case: str, provider: FakeOidcProvider) -> dict[str, Any]:
    if case == "signature":
        return {"signing_key": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
    if case == "state":
        return {"state": "not-the-state-we-sent"}
    now = int(time.time())
    bad_claims: dict[str, dict[str, Any]] = {
        "audience": {"aud": "another-client"},
        "nonce": {"nonce": "replayed-nonce"},
        "expired": {"iat": now - 7200, "exp": now - 3600},
        "issuer": {"iss": "http://127.0.0.1:9/another-tenants-idp"},
    }
    return {"claims": claims_for("eve", **bad_claims[case])}


@pytest.mark.parametrize("case", ["signature", "audience", "nonce", "expired", "issuer", "state"])
def test_a_token_wrong_in_any_way_is_refused_audited_and_signs_nobody_in(browser, provider, tenant_alpha, case):
    options: dict[str, Any] = {"claims": claims_for("eve"), **_refusal(case, provider)}
    claims = options.pop("claims")
    done = sign_in(browser, provider, claims, **options)
    assert done.status_code == 400
    said = {"state": "not started here", "nonce": "does not belong to this sign-in"}.get(case, "could not be verified")
    assert said in done.content.decode()
    assert signed_in_as(browser) is None
    with schema_context(tenant_alpha.schema_name):
        assert not User.objects.filter(username="eve@example.com").exists()
        event = AuditEvent.objects.filter(action="auth.sso.refused").latest("id")
        assert event.outcome == "failure"
        assert event.details["code"] == "invalid_token"


def test_an_email_domain_outside_the_allowed_ones_is_refused(browser, provider, tenant_alpha):
    tenant_settings_update(schema_name="alpha", actor="test", sso_allowed_email_domains=["corp.example"])
    done = sign_in(browser, provider, claims_for("fay"))
    assert done.status_code == 400
    assert "not one this company signs in with" in done.content.decode()
    assert signed_in_as(browser) is None


def test_a_local_account_of_the_same_name_is_not_taken_over(browser, provider, tenant_alpha):
    local = tenant_user(tenant_alpha, username="gus@example.com")
    done = sign_in(browser, provider, claims_for("gus"))
    assert done.status_code == 400
    assert "not linked" in done.content.decode()
    with schema_context(tenant_alpha.schema_name):
        assert not DirectoryIdentity.objects.filter(user=local).exists()


def test_a_discovery_document_naming_another_issuer_is_refused(browser, provider, tenant_alpha, monkeypatch):
    monkeypatch.setattr(FakeOidcProvider, "discovery", lambda self: {"issuer": "https://elsewhere.example"})
    response = browser.get("/accounts/sso/start/", HTTP_HOST=ALPHA_HOST)
    assert response.status_code == 503
    assert "cannot be used for sign-in" in response.content.decode()


def test_with_passwords_off_only_single_sign_on_opens_portal_and_admin(browser, provider, tenant_alpha):
    admin = tenant_user(tenant_alpha, username="helga", is_staff=True, is_superuser=True)
    tenant_settings_update(schema_name="alpha", actor="test", password_sign_in_enabled=False)
    page = browser.get("/accounts/login/", HTTP_HOST=ALPHA_HOST).content.decode()
    assert "Sign in with Example IdP" in page
    assert 'name="password"' not in page
    refused = browser.post("/accounts/login/", {"username": admin.username, "password": PASSWORD}, HTTP_HOST=ALPHA_HOST)
    assert refused.status_code == 403
    assert signed_in_as(browser) is None
    browser.post("/admin/login/", {"username": admin.username, "password": PASSWORD}, HTTP_HOST=ALPHA_HOST)
    assert signed_in_as(browser) is None
    assert sign_in(browser, provider, claims_for("ida")).status_code == 302
    assert signed_in_as(browser) == "ida@example.com"
