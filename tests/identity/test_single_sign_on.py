"""Single sign-on over OpenID Connect: the code flow with PKCE, state and nonce, every check of the
ID token, accounts and groups from its claims, and passwords switched off."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from apps.accounts.models import DirectoryIdentity, User
from apps.accounts.roles import TENANT_ADMINS_GROUP
from apps.audit.models import AuditEvent
from apps.tenants.services import tenant_settings_update
from tests.api.conftest import ALPHA_HOST, PASSWORD, SchemaKeepingClient, tenant_user
from tests.support.fake_oidc_provider import FakeOidcProvider

pytestmark = pytest.mark.integration

SECRET_VARIABLE = "OIDC_CLIENT_SECRET_ALPHA"


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


def claims_for(name: str, **extra) -> dict:
    return {
        "sub": f"00u-{name}",
        "email": f"{name}@example.com",
        "email_verified": True,
        "preferred_username": f"{name}@example.com",
        "given_name": name.title(),
        "groups": ["Engineering"],
        **extra,
    }


def sign_in(browser, provider, claims: dict, *, next_url: str = "", signing_key=None, state: str | None = None):
    start = browser.get("/accounts/sso/start/", {"next": next_url} if next_url else {}, HTTP_HOST=ALPHA_HOST)
    assert start.status_code == 302, start.content
    params = parse_qs(urlsplit(start["Location"]).query)
    code = provider.approve(params, claims=claims, signing_key=signing_key)
    return browser.get(
        "/accounts/oidc/callback/", {"code": code, "state": state or params["state"][0]}, HTTP_HOST=ALPHA_HOST
    )


def signed_in_as(browser) -> str | None:
    response = browser.get("/api/v1/history", HTTP_HOST=ALPHA_HOST)
    if response.status_code != 200:
        return None
    with schema_context("alpha"):
        session = SessionStore(session_key=browser.cookies["sessionid"].value)
        return User.objects.get(pk=session["_auth_user_id"]).username


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


def test_passwords_cannot_be_switched_off_before_single_sign_on_is_set_up(tenant_alpha):
    with pytest.raises(ValidationError) as refused:
        tenant_settings_update(schema_name="alpha", actor="test", password_sign_in_enabled=False)
    assert "password_sign_in_enabled" in refused.value.message_dict


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sso_client_secret_ref", "s3cr3t-pasted-by-mistake"),
        ("sso_client_secret_ref", "env:TENANT_KEK"),
        ("sso_client_secret_ref", "file:../../etc/passwd"),
        ("sso_client_secret_ref", "env:OIDC_CLIENT_SECRET_BETA"),  # another tenant's
        ("sso_client_secret_ref", "file:beta"),
        ("sso_client_secret_ref", "file:client-secret"),
        ("sso_issuer", "ftp://idp.example.com"),
        ("sso_issuer", "http://idp.example.com/?x=1"),
        ("sso_allowed_email_domains", ["not a domain"]),
        ("sso_groups_claim", "groups; drop"),
    ],
)
def test_settings_refuse_raw_secrets_odd_references_and_bad_urls(tenant_alpha, field, value):
    with pytest.raises(ValidationError) as refused:
        tenant_settings_update(schema_name="alpha", actor="test", **{field: value})
    assert field in refused.value.message_dict


def test_a_new_issuer_drops_the_old_secret_reference(provider, tenant_alpha):
    """The secret was the old provider's: sent to a new issuer it would be handed to someone else."""
    row = tenant_settings_update(schema_name="alpha", actor="test", sso_issuer="http://127.0.0.1:9/elsewhere")
    assert row.sso_client_secret_ref == ""
    row = tenant_settings_update(
        schema_name="alpha", actor="test", sso_issuer=provider.issuer, sso_client_secret_ref=f"env:{SECRET_VARIABLE}"
    )
    assert row.sso_client_secret_ref == f"env:{SECRET_VARIABLE}"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://idp.example.com", "not https"),
        ("https://127.0.0.1:8443/token", "an internal address"),
        ("https://10.1.2.3/token", "an internal address"),
        ("https://169.254.169.254/latest", "an internal address"),
        ("https://idp.localhost/token", "an internal address"),
        ("https://127.1:8443/token", "an internal address"),  # what the resolver makes of shorthand
        ("https://2130706433/token", "an internal address"),
        ("https://login.example.com/oauth2/token", ""),
    ],
)
def test_provider_urls_outside_development_are_https_and_public(settings, monkeypatch, url, problem):
    import socket

    from apps.tenants.sso_config import provider_url_problem

    resolve = socket.getaddrinfo

    def public_example(host, *args, **kwargs):
        if host == "login.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 0))]
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", public_example)
    settings.OIDC_REQUIRE_HTTPS_ISSUER = True
    assert provider_url_problem(url) == problem


def test_a_discovery_document_sending_the_secret_elsewhere_is_refused(browser, provider, monkeypatch, settings):
    """Sixth attack pass: the issuer passed, its token endpoint pointed at another internal port."""
    original = FakeOidcProvider.discovery

    def elsewhere(self):
        return {**original(self), "token_endpoint": "ftp://127.0.0.1:9/internal-admin/token"}

    monkeypatch.setattr(FakeOidcProvider, "discovery", elsewhere)
    response = browser.get("/accounts/sso/start/", HTTP_HOST=ALPHA_HOST)
    assert response.status_code == 503
    assert provider.token_requests == []


def test_a_claim_naming_a_group_made_in_the_portal_does_not_take_it_over(browser, provider, tenant_alpha):
    """Sixth attack pass: naming "Legal" in a claim handed its document grants to anyone."""
    with schema_context(tenant_alpha.schema_name):
        Group.objects.create(name="Legal")
    sign_in(browser, provider, claims_for("kim", groups=["Legal", "legal ", "Engineering"]))
    with schema_context(tenant_alpha.schema_name):
        user = User.objects.get(username="kim@example.com")
        assert list(user.groups.values_list("name", flat=True)) == ["Engineering"]
        assert not Group.objects.get(name="Legal").user_set.exists()


def test_a_provider_name_differing_from_a_local_account_only_in_case_is_refused(browser, provider, tenant_alpha):
    tenant_user(tenant_alpha, username="lena@example.com")
    done = sign_in(browser, provider, claims_for("lena", preferred_username="LENA@example.com"))
    assert done.status_code == 400
    with schema_context(tenant_alpha.schema_name):
        assert User.objects.filter(username__iexact="lena@example.com").count() == 1


def test_only_superusers_change_who_signs_people_in(provider, tenant_alpha):
    """Seventh attack pass: a tenant admin pointed the tenant at a provider of his own."""
    from django.core.exceptions import PermissionDenied

    from tests.api.conftest import make_key

    tenant_admin = tenant_user(tenant_alpha, admin=True, username="ta")
    with pytest.raises(PermissionDenied):
        tenant_settings_update(schema_name="alpha", actor=tenant_admin, sso_issuer="http://127.0.0.1:9/mine")
    key = make_key(tenant_alpha, tenant_admin, scopes=("admin",))
    response = SchemaKeepingClient().patch(
        "/api/v1/admin/settings",
        {"sso_groups_claim": "roles"},
        content_type="application/json",
        HTTP_HOST=ALPHA_HOST,
        HTTP_X_API_KEY=key,
    )
    assert response.status_code == 403
    # What else a tenant admin manages stays theirs.
    assert (
        tenant_settings_update(schema_name="alpha", actor=tenant_admin, query_retention_days=30).query_retention_days
        == 30
    )


def test_a_provisioned_account_links_only_to_the_provider_of_its_provisioning(browser, provider, tenant_alpha):
    """Seventh attack pass: after the issuer changed, a sign-in took over a provisioned colleague."""
    from tests.identity.conftest import ScimClient, scim_token

    scim = ScimClient()
    token = scim_token(tenant_alpha)
    body = {"userName": "ned@example.com", "emails": [{"value": "ned@example.com", "primary": True}]}
    assert scim.post("/scim/v2/Users", body, host=ALPHA_HOST, token=token).status_code == 201
    assert sign_in(browser, provider, claims_for("ned")).status_code == 302  # the same provider: linked
    browser.logout()

    tenant_settings_update(
        schema_name="alpha", actor="test", sso_issuer="http://127.0.0.1:9/old", sso_client_secret_ref=""
    )
    body = {"userName": "ola@example.com", "emails": [{"value": "ola@example.com", "primary": True}]}
    assert scim.post("/scim/v2/Users", body, host=ALPHA_HOST, token=token).status_code == 201
    tenant_settings_update(
        schema_name="alpha", actor="test", sso_issuer=provider.issuer, sso_client_secret_ref=f"env:{SECRET_VARIABLE}"
    )
    refused = sign_in(browser, provider, claims_for("ola"))
    assert refused.status_code == 400
    assert "not linked" in refused.content.decode()


@pytest.mark.parametrize("name", ["\uff41\uff44\uff4d\uff49\uff4e", "ad\u200bmin", "ADMIN"])
def test_look_alikes_of_a_local_account_are_refused(browser, provider, tenant_alpha, name):
    done = sign_in(browser, provider, claims_for("pat", preferred_username=name))
    assert done.status_code == 400


def test_a_provider_that_redirects_is_not_followed(browser, provider, monkeypatch):
    """Eighth attack pass: a public issuer answered 302 to a loopback port, which was then fetched."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    fetched: list[str] = []

    class Internal(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def do_GET(self):
            fetched.append(self.path)
            self.send_response(200)
            self.end_headers()

    internal = ThreadingHTTPServer(("127.0.0.1", 0), Internal)
    threading.Thread(target=internal.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{internal.server_address[1]}/.well-known/openid-configuration"

    class Redirecting(BaseHTTPRequestHandler):
        def log_message(self, *args):
            return

        def do_GET(self):
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()

    redirecting = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=redirecting.serve_forever, daemon=True).start()
    try:
        tenant_settings_update(
            schema_name="alpha", actor="test", sso_issuer=f"http://127.0.0.1:{redirecting.server_address[1]}"
        )
        response = browser.get("/accounts/sso/start/", HTTP_HOST=ALPHA_HOST)
        assert response.status_code == 503
        assert fetched == []
    finally:
        internal.shutdown()
        redirecting.shutdown()
