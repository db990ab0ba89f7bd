"""A tenant's OpenID Connect client, built from its settings (docs/identity.md).

Authlib does the protocol: the authorization request with state, nonce and PKCE (S256) kept in the
session, the code exchange, and the ID token's checks (signature against the provider's published
keys, fetched again when a token names a key id it has not seen, so a key rotation needs no
restart; issuer, audience, expiry, nonce). Why Authlib: a tenant's provider is a database row,
and Authlib builds a client from any configuration at run time, while mozilla-django-oidc reads
one provider from settings and django-allauth brings its own accounts, e-mail flows and pages.
"""

from __future__ import annotations

import logging
import threading
import time

from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from django.conf import settings
from requests import RequestException

from apps.tenants.models import TenantSettings
from apps.tenants.sso_config import ClientSecretUnavailable, client_secret_resolve, provider_url_problem

logger = logging.getLogger(__name__)


class NoRedirectSession(OAuth2Session):
    """Every call to a provider (discovery, keys, token exchange) goes where its checked URL says:
    a redirect would take it, and the client secret, past the address checks (eighth attack pass:
    a public issuer answered 302 to a loopback port). A 3xx is then a failed call."""

    def request(self, method, url, withhold_token=False, auth=None, **kwargs):
        kwargs["allow_redirects"] = False
        response = super().request(method, url, withhold_token=withhold_token, auth=auth, **kwargs)
        if response.is_redirect:
            raise RequestException(f"the identity provider redirected a {method} request")
        return response


class SsoApp(DjangoOAuth2App):
    client_cls = NoRedirectSession


class SsoRegistry(OAuth):
    oauth2_client_cls = SsoApp


class SsoUnavailable(Exception):
    """Single sign-on is not set up, or its configuration cannot be used (said in the message)."""


BASE_SCOPES = ("openid", "email", "profile")

_clients: dict[tuple, tuple[float, DjangoOAuth2App]] = {}
_clients_lock = threading.Lock()


def sso_client(row: TenantSettings) -> DjangoOAuth2App:
    """The tenant's client, shared by this process's requests until its metadata is due again."""
    if not row.sso_enabled:
        raise SsoUnavailable("single sign-on is not configured for this company")
    try:
        secret = client_secret_resolve(schema_name=row.tenant.schema_name, reference=row.sso_client_secret_ref)
    except ClientSecretUnavailable as error:
        raise SsoUnavailable(str(error)) from error
    identity = (row.tenant.schema_name, row.sso_issuer, row.sso_client_id, row.sso_client_secret_ref, secret)
    now = time.monotonic()
    with _clients_lock:
        cached = _clients.get(identity)
        if cached and now - cached[0] < settings.OIDC_METADATA_TTL_SECONDS:
            return cached[1]
    client = _client_build(row, secret)
    with _clients_lock:
        _clients[identity] = (now, client)
    return client


def _client_build(row: TenantSettings, secret: str) -> DjangoOAuth2App:
    registry = SsoRegistry()
    client = registry.register(
        name=f"sso_{row.tenant.schema_name}",
        client_id=row.sso_client_id,
        client_secret=secret,
        server_metadata_url=f"{row.sso_issuer}/.well-known/openid-configuration",
        client_kwargs={"code_challenge_method": "S256", "default_timeout": settings.OIDC_HTTP_TIMEOUT_SECONDS},
    )
    # One message for every failure: a tenant administrator must not learn from it which internal
    # hosts and ports answer (the issuer is theirs to choose). The log says which it was.
    unusable = SsoUnavailable(f"the identity provider at {row.sso_issuer} cannot be used for sign-in")
    try:
        metadata = client.load_server_metadata()
    except Exception as error:
        logger.info("identity provider unreachable for %s: %s", row.tenant.schema_name, type(error).__name__)
        raise unusable from error
    problem = _metadata_problem(metadata, row.sso_issuer)
    if problem:
        logger.info("identity provider of %s refused: %s", row.tenant.schema_name, problem)
        raise unusable
    return client


ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


def _metadata_problem(metadata: dict, issuer: str) -> str:
    """Why a discovery document cannot be used, or "". RFC 8414: it names the issuer it was fetched
    for. Its endpoints get the issuer's own checks (https outside development, no loopback, private
    or link-local address): the token endpoint receives the client secret (sixth attack pass: an
    issuer whose document sent it to another internal port)."""
    if str(metadata.get("issuer", "")).rstrip("/") != issuer.rstrip("/"):
        return "the discovery document names another issuer"
    for name in ENDPOINTS:
        problem = provider_url_problem(str(metadata.get(name) or ""))
        if problem:
            return f"{name}: {problem}"
    return ""


def sso_scopes(client: DjangoOAuth2App, groups_claim: str) -> str:
    """openid email profile, plus the group claim's scope where the provider offers one (Okta's
    "groups"); a provider that does not list it (Entra ID) would refuse the whole request."""
    supported = client.load_server_metadata().get("scopes_supported") or []
    extra = [groups_claim] if groups_claim and groups_claim in supported else []
    return " ".join((*BASE_SCOPES, *extra))
