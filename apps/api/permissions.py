"""What an authenticated caller may do: the credential's scope, and the user's role for admin routes."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import get_public_schema_name
from rest_framework.permissions import BasePermission

from apps.accounts.models import User
from apps.accounts.roles import TENANT_ADMINS_GROUP

from .credentials import Credential


def user_is_tenant_admin(user: User) -> bool:
    return bool(user.is_active and (user.is_superuser or user.groups.filter(name=TENANT_ADMINS_GROUP).exists()))


class ScopeRequired(BasePermission):
    """The view's `required_scope` must be in the credential; `admin` also needs a tenant administrator.

    Anything unexpected (no tenant, no credential) is refused: we fail closed.
    """

    message = "You do not have permission to perform this action."
    code = "permission_denied"

    def has_permission(self, request, view) -> bool:
        credential = request.auth
        if not isinstance(credential, Credential) or not request.user.is_authenticated:
            return False
        if getattr(connection, "schema_name", get_public_schema_name()) == get_public_schema_name():
            return False
        scope = view.required_scope
        if not credential.allows(scope):
            self.message, self.code = f"This credential lacks the {scope!r} scope.", "insufficient_scope"
            return False
        if scope == "admin" and not user_is_tenant_admin(request.user):
            self.message, self.code = "Only tenant administrators may do this.", "not_tenant_admin"
            return False
        return True
