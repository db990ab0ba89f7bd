"""Single sign-on configuration and hardening: who may set it, secret references, provider addresses,
redirects, look-alike names, provisioned accounts and their provider."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.tenants.services import tenant_settings_update
from tests.api.conftest import ALPHA_HOST, SchemaKeepingClient, tenant_user
from tests.support.fake_oidc_provider import FakeOidcProvider

from .sso import SECRET_VARIABLE, claims_for, sign_in

pytestmark = pytest.mark.integration


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
