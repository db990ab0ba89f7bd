"""WebSocket middleware: the tenant comes from the Host header, the user from that tenant's session.

Mirrors django-tenants' TenantMainMiddleware for HTTP, and fails closed: an unknown, inactive or
public host, or an Origin that is not the host itself, is refused before the handshake completes.
Channels' stock AuthMiddleware cannot be used as is: it loads the session and the user on a
shared worker thread whose search_path belongs to whichever connection ran last, so the lookup
here runs explicitly inside the tenant's schema (a session cookie of tenant A then means nothing
on tenant B's host).
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlsplit

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from django_tenants.utils import get_public_schema_name, remove_www, schema_context

from apps.tenants.models import Tenant
from apps.tenants.selectors import active_tenant_for_hostname


def scope_header(scope: dict, name: bytes) -> str:
    for header_name, value in scope.get("headers", []):
        if header_name == name:
            return value.decode("latin1")
    return ""


def hostname_of(host_header: str) -> str:
    """The host name without port, lower-cased; empty when the header is not an allowed host."""
    domain, _port = split_domain_port(host_header)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return ""
    return remove_www(domain)


def origin_matches_host(*, origin: str, hostname: str) -> bool:
    """A page of tenant B (same site as tenant A in cookie terms) must not open tenant A's socket."""
    try:
        origin_host = urlsplit(origin).hostname or ""
    except ValueError:
        return False
    return bool(origin_host) and remove_www(origin_host.lower()) == hostname


@database_sync_to_async
def tenant_for_hostname(hostname: str) -> Tenant | None:
    with schema_context(get_public_schema_name()):
        tenant = active_tenant_for_hostname(hostname)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return None
    return tenant


class TenantFromHostMiddleware:
    """Puts `scope["tenant"]` (a Tenant) or refuses the connection."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        hostname = hostname_of(scope_header(scope, b"host"))
        tenant = await tenant_for_hostname(hostname) if hostname else None
        if tenant is None or not origin_matches_host(origin=scope_header(scope, b"origin"), hostname=hostname):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app({**scope, "tenant": tenant}, receive, send)


@database_sync_to_async
def user_in_tenant(scope: dict):
    """The session's user, read from the tenant's own session and user tables."""
    tenant = scope.get("tenant")
    if tenant is None:
        return AnonymousUser()
    with schema_context(tenant.schema_name):
        # django.contrib.auth.get_user only reads `.session`: the same checks as for a page
        # (backend still configured, user active, session hash matches the password).
        return auth.get_user(SimpleNamespace(session=scope["session"]))  # type: ignore[arg-type]


class TenantAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await user_in_tenant(scope)


def tenant_websocket_stack(inner):
    """Origin allowed -> tenant from host -> cookies -> session -> user (in the tenant's schema)."""
    return AllowedHostsOriginValidator(
        TenantFromHostMiddleware(CookieMiddleware(SessionMiddleware(TenantAuthMiddleware(inner))))
    )
