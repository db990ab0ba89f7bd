"""Writes on users and groups. Call these inside the tenant's schema."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from .models import User
from .roles import DEFAULT_GROUPS, TENANT_ADMINS_GROUP


@dataclass(frozen=True)
class AdminAccount:
    user: User
    # Only set when the password was generated now: it is shown once and never stored in clear.
    generated_password: str | None


def default_groups_ensure() -> list[Group]:
    return [Group.objects.get_or_create(name=name)[0] for name in DEFAULT_GROUPS]


@transaction.atomic
def tenant_admin_ensure(*, email: str, username: str = "admin", reset_password: bool = False) -> AdminAccount:
    """Create the tenant's administrator once; later calls leave the password alone unless asked."""
    user = User.objects.filter(username=username).first()
    generated = None
    if user is None:
        user = User(username=username, email=email, is_staff=True, is_superuser=True)
        generated = secrets.token_urlsafe(15)
        user.set_password(generated)
        user.save()
    elif reset_password:
        generated = secrets.token_urlsafe(15)
        user.set_password(generated)
        user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=TENANT_ADMINS_GROUP))
    return AdminAccount(user=user, generated_password=generated)
