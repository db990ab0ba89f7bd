"""What a tenant's single sign-on configuration may point at: its client secret only in the
operator's environment or secrets directory under the tenant's own name, and provider URLs the
server may fetch (docs/identity.md)."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings


class ClientSecretUnavailable(Exception):
    """The reference is not the tenant's, or nothing is stored under it."""


def client_secret_references(schema_name: str) -> tuple[str, str]:
    """The two references the tenant may name: `env:OIDC_CLIENT_SECRET_<SCHEMA>` and `file:<schema>`."""
    return f"env:OIDC_CLIENT_SECRET_{schema_name.upper()}", f"file:{schema_name}"


def client_secret_resolve(*, schema_name: str, reference: str) -> str:
    """The secret behind the tenant's reference; "" for none (a public client, PKCE only)."""
    if not reference:
        return ""
    env_reference, file_reference = client_secret_references(schema_name)
    if reference == env_reference:
        value = os.environ.get(reference.removeprefix("env:"), "")
    elif reference == file_reference and settings.OIDC_CLIENT_SECRETS_DIR:
        path = Path(settings.OIDC_CLIENT_SECRETS_DIR) / schema_name
        value = path.read_text().strip() if path.is_file() else ""
    else:
        raise ClientSecretUnavailable("the client secret reference is not this tenant's")
    if not value:
        raise ClientSecretUnavailable("the client secret the configuration names is not set on this server")
    return value


def provider_url_problem(url: str) -> str:
    """Why a provider URL may not be fetched, or "" (the issuer's validation uses this too)."""
    parts = urlsplit(url)
    if parts.scheme not in (("https",) if settings.OIDC_REQUIRE_HTTPS_ISSUER else ("https", "http")):
        return "not https"
    if not parts.hostname:
        return "no host"
    if settings.OIDC_REQUIRE_HTTPS_ISSUER:
        return _host_problem(parts.hostname)
    return ""


def _host_problem(host: str) -> str:
    """Every address the host resolves to must be a global one: the resolver, not a parser, says
    what "127.1", "2130706433" or "0x7f000001" mean (seventh attack pass: they passed a literal
    check and reached loopback). Resolution at fetch time may differ (DNS rebinding): an egress
    policy is the operator's last word (docs/identity.md)."""
    if host == "localhost" or host.endswith(".localhost"):
        return "an internal address"
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return "cannot be resolved"
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if not ip.is_global:
            return "an internal address"
    return ""
