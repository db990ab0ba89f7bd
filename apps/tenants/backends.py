"""Authentication backends of our own (the rest are Django's, axes' and guardian's)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import connection
from django_tenants.utils import get_public_schema_name

from .selectors import tenant_settings_get


class PasswordSignInPolicyBackend:
    """Refuses password sign-in, portal and admin alike, in a tenant whose settings switched it off
    (its people sign in through the identity provider). Raising PermissionDenied stops Django from
    asking the backends after it, so no password is even checked."""

    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any):
        if password is None:
            return None
        schema = getattr(connection, "schema_name", None)
        if not schema or schema == get_public_schema_name():
            return None
        if not tenant_settings_get(schema_name=schema).password_sign_in_enabled:
            raise PermissionDenied("password sign-in is switched off for this tenant")
        return None

    # No get_user: sessions are never this backend's (Django's force_login picks the first backend
    # that has one, and a session recorded against this one would never find its user).
