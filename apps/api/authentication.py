"""Who is calling, and in which tenant: API keys, JWT bearer tokens, the portal's own session.

API keys and tokens name their tenant themselves, so they work on the platform host (the
connection then switches to the tenant's schema for this request) and on their own tenant's host.
On another tenant's host they are refused (403), whatever they would grant: we fail closed.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django_tenants.utils import get_public_schema_name
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication, get_authorization_header
from rest_framework.request import Request

from apps.accounts.models import User
from apps.core.process_cache import process_cache_get
from apps.documents.acl import users_with_group_ids
from apps.tenants.context import active_schema_name, request_tenant_enter
from apps.tenants.freeze import FROZEN_RETRY_AFTER_SECONDS, SAFE_METHODS, frozen_message
from apps.tenants.models import Tenant
from apps.tenants.rate_limits import user_rate_principal as rate_principal_of_user

from .credentials import Credential
from .jwt_tokens import TokenRejected, jwt_claims_verify
from .key_material import key_material_parse, secret_matches
from .selectors import api_key_by_prefix
from .services import api_key_delegation_check, api_key_mark_used

API_KEY_HEADER = "X-API-Key"
CHALLENGE = 'Bearer realm="api", ApiKey realm="api"'


def _enter_tenant(request: Request, tenant: Tenant) -> None:
    """Serve this request from `tenant`'s schema, or refuse a credential of another tenant."""
    current = active_schema_name()
    if current == tenant.schema_name:
        return
    if current != get_public_schema_name():
        raise exceptions.PermissionDenied(
            "This credential belongs to another tenant. Use its own host or the platform host.",
            code="wrong_tenant",
        )
    if request.method not in SAFE_METHODS and tenant.writes_frozen_at is not None:
        raise TenantMoving()
    request._request.tenant = request_tenant_enter(tenant)  # type: ignore[attr-defined]


class TenantMoving(exceptions.APIException):
    """A write for a tenant being moved to another shard (apps/tenants/freeze.py): try again shortly."""

    status_code = 503
    default_code = "tenant_moving"

    def __init__(self) -> None:
        super().__init__(detail=frozen_message())
        self.wait = FROZEN_RETRY_AFTER_SECONDS  # DRF's handler turns it into Retry-After


def _active_user(**lookup: object) -> User:
    """The active user with their group ids (for ACL principals), in the current tenant's schema.
    A copy per call: the request's user collects per-request state (permission caches)."""
    cache_key = (active_schema_name(), *sorted(lookup.items()))
    user = process_cache_get("api-user", cache_key, lambda: _active_user_read(**lookup))
    if user is None:
        raise exceptions.AuthenticationFailed("The credential's user does not exist or is inactive.")
    return copy.copy(user)


def _active_user_read(**lookup: object) -> User | None:
    return users_with_group_ids(User.objects.filter(is_active=True, **lookup)).first()


def user_rate_principal(user: User) -> str:
    return rate_principal_of_user(schema_name=active_schema_name(), user_id=user.pk)


def _delegation_still_holds(key, user: User) -> None:
    if key.created_by_id is None or key.created_by_id == key.user_id:
        return  # the common case costs nothing: a key acting as its own creator
    try:
        creator = _active_user(pk=key.created_by_id)
    except exceptions.AuthenticationFailed:
        creator = None
    try:
        api_key_delegation_check(key=key, user=user, created_by=creator)
    except DjangoPermissionDenied as lapsed:
        raise exceptions.PermissionDenied(
            f"This key acts as another user beyond what its creator holds today: {lapsed}", code="delegation_lapsed"
        ) from None


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[User, Credential] | None:
        presented = request.META.get("HTTP_X_API_KEY")
        if presented is None:
            return None
        material = key_material_parse(presented)
        key = api_key_by_prefix(prefix=material.prefix) if material else None
        if material is None or key is None or not secret_matches(secret=material.secret, stored_digest=key.secret_hash):
            raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        if key.is_revoked:
            raise exceptions.AuthenticationFailed("This API key has been revoked.", code="api_key_revoked")
        if key.is_expired():
            raise exceptions.AuthenticationFailed("This API key has expired.", code="api_key_expired")
        if not key.tenant.is_active:
            raise exceptions.AuthenticationFailed("Invalid API key.", code="invalid_api_key")
        _enter_tenant(request, key.tenant)
        user = _active_user(pk=key.user_id)
        _delegation_still_holds(key, user)
        api_key_mark_used(key=key)
        credential = Credential(
            kind="api_key",
            scopes=frozenset(key.scopes),
            rate_principal=f"key:{key.pk}",
            api_key_id=key.pk,
            rate_limits=key.rate_limits,
            expires_at=key.expires_at,
            delegated_by=key.created_by_id if key.created_by_id not in (None, key.user_id) else None,
        )
        return user, credential

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE


class JwtAuthentication(BaseAuthentication):
    """`Authorization: Bearer <JWT>` with claims sub (username), tenant (schema), aud, exp, iat,
    and optionally `scope` (space-separated) to narrow what the token may do."""

    def authenticate(self, request: Request) -> tuple[User, Credential] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send exactly one bearer token.", code="invalid_token")
        try:
            claims = jwt_claims_verify(parts[1].decode("ascii", errors="replace"))
        except TokenRejected as rejected:
            raise exceptions.AuthenticationFailed(rejected.message, code=rejected.code) from None
        tenant_name, subject = claims.get("tenant"), claims.get("sub")
        if not isinstance(tenant_name, str) or not isinstance(subject, str):
            raise exceptions.AuthenticationFailed("The token's tenant and sub must be strings.", code="invalid_token")
        tenant = Tenant.objects.filter(schema_name=tenant_name, is_active=True).first()
        if tenant is None or tenant.schema_name == get_public_schema_name():
            raise exceptions.AuthenticationFailed("The token names no active tenant.", code="invalid_token")
        _enter_tenant(request, tenant)
        user = _active_user(username=subject)
        scope = claims.get("scope")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else None
        expires_at = datetime.fromtimestamp(claims["exp"], tz=UTC)  # verified: required and numeric
        return user, Credential(
            kind="jwt", scopes=scopes, rate_principal=user_rate_principal(user), expires_at=expires_at
        )

    def authenticate_header(self, request: Request) -> str:
        return CHALLENGE


class TenantSessionAuthentication(SessionAuthentication):
    """The portal's own pages calling the API: their session, CSRF enforced, tenant hosts only
    (a session on the platform host belongs to platform staff, who have no tenant data)."""

    def authenticate(self, request: Request) -> tuple[User, Credential] | None:
        if active_schema_name() == get_public_schema_name():
            return None
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        return user, Credential(kind="session", scopes=None, rate_principal=user_rate_principal(user))
