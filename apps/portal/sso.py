"""A tenant's OpenID Connect client, built from its settings (docs/identity.md).

Authlib does the protocol: the authorization request with state, nonce and PKCE (S256) kept in the
session, the code exchange, and the ID token's checks (signature against the provider's published
keys, fetched again when a token names a key id it has not seen, so a key rotation needs no
restart; issuer, audience, expiry, nonce). Why Authlib: a tenant's provider is a database row,
and Authlib builds a client from any configuration at run time, while mozilla-django-oidc reads
one provider from settings and django-allauth brings its own accounts, e-mail flows and pages.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from django.conf import settings

from apps.tenants.models import TenantSettings


class SsoUnavailable(Exception):
    """Single sign-on is not set up, or its configuration cannot be used (said in the message)."""


BASE_SCOPES = ("openid", "email", "profile")

_clients: dict[tuple, tuple[float, DjangoOAuth2App]] = {}
_clients_lock = threading.Lock()


def sso_client(row: TenantSettings) -> DjangoOAuth2App:
    """The tenant's client, shared by this process's requests until its metadata is due again."""
    if not row.sso_enabled:
        raise SsoUnavailable("single sign-on is not configured for this company")
    secret = client_secret_resolve(row.sso_client_secret_ref)
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
    registry = OAuth()
    client = registry.register(
        name=f"sso_{row.tenant.schema_name}",
        client_id=row.sso_client_id,
        client_secret=secret,
        server_metadata_url=f"{row.sso_issuer}/.well-known/openid-configuration",
        client_kwargs={"code_challenge_method": "S256", "default_timeout": settings.OIDC_HTTP_TIMEOUT_SECONDS},
    )
    try:
        metadata = client.load_server_metadata()
    except Exception as error:
        raise SsoUnavailable(f"the identity provider at {row.sso_issuer} cannot be reached") from error
    # RFC 8414: the document must name the issuer it was fetched for, or it is someone else's.
    if str(metadata.get("issuer", "")).rstrip("/") != row.sso_issuer.rstrip("/"):
        raise SsoUnavailable("the identity provider's discovery document names another issuer")
    return client


def sso_scopes(client: DjangoOAuth2App, groups_claim: str) -> str:
    """openid email profile, plus the group claim's scope where the provider offers one (Okta's
    "groups"); a provider that does not list it (Entra ID) would refuse the whole request."""
    supported = client.load_server_metadata().get("scopes_supported") or []
    extra = [groups_claim] if groups_claim and groups_claim in supported else []
    return " ".join((*BASE_SCOPES, *extra))


def client_secret_resolve(reference: str) -> str:
    """The secret a reference names: "env:OIDC_CLIENT_SECRET_..." or "file:NAME" in
    OIDC_CLIENT_SECRETS_DIR. An empty reference is a public client (PKCE only)."""
    if not reference:
        return ""
    kind, _, name = reference.partition(":")
    if kind == "env" and name.startswith("OIDC_CLIENT_SECRET_"):
        value = os.environ.get(name, "")
    elif kind == "file" and settings.OIDC_CLIENT_SECRETS_DIR and "/" not in name and not name.startswith("."):
        path = Path(settings.OIDC_CLIENT_SECRETS_DIR) / name
        value = path.read_text().strip() if path.is_file() else ""
    else:
        raise SsoUnavailable("the client secret reference is not one this server reads")
    if not value:
        raise SsoUnavailable("the client secret the configuration names is not set on this server")
    return value
