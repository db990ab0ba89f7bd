"""Document changes made through the API, each audited in the same transaction as the change.

Permissions are replaced whole (PUT semantics) through the documents services: each principal whose
rights change is granted or revoked the difference, and those services audit each change and
recompute the ACL of the document and its chunks at once, so the next query already respects it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.shortcuts import get_groups_with_perms, get_users_with_perms

from apps.accounts.models import User
from apps.audit.services import audit_event_record
from apps.documents.models import Document
from apps.documents.services import (
    GRANTABLE_PERMISSIONS,
    document_access_grant,
    document_access_revoke,
    document_delete,
    document_visibility_set,
)


@dataclass(frozen=True)
class DocumentPermissions:
    visible_to_tenant: bool
    users: Mapping[str, frozenset[str]]  # username -> permission codenames
    groups: Mapping[str, frozenset[str]]  # group name -> permission codenames


def document_permissions_get(*, document: Document) -> DocumentPermissions:
    # With attach_perms these return {principal: [codename, ...]}.
    users = cast(dict[User, list[str]], get_users_with_perms(document, attach_perms=True, with_group_users=False))
    groups = cast(dict[Group, list[str]], get_groups_with_perms(document, attach_perms=True))
    return DocumentPermissions(
        visible_to_tenant=document.visible_to_tenant,
        users={user.username: frozenset(perms) & GRANTABLE_PERMISSIONS for user, perms in users.items()},
        groups={group.name: frozenset(perms) & GRANTABLE_PERMISSIONS for group, perms in groups.items()},
    )


def _principals(model, field: str, names, error_key: str) -> dict:
    found = {getattr(row, field): row for row in model.objects.filter(**{f"{field}__in": list(names)})}
    missing = sorted(set(names) - set(found))
    if missing:
        raise ValidationError({error_key: [f"unknown: {', '.join(missing)}"]})
    return found


def _apply(*, document: Document, principal: User | Group, before, after, actor: User) -> None:
    # The documents services audit each grant and revoke themselves (acl.grant / acl.revoke).
    granted, revoked = sorted(after - before), sorted(before - after)
    if granted:
        document_access_grant(document=document, principal=principal, permissions=granted, actor=actor)
    if revoked:
        document_access_revoke(document=document, principal=principal, permissions=revoked, actor=actor)


@transaction.atomic
def document_permissions_replace(
    *, document: Document, wanted: DocumentPermissions, actor: User
) -> DocumentPermissions:
    """Make the document's permissions exactly `wanted`. Unknown users or groups change nothing (400)."""
    Document.objects.select_for_update().filter(pk=document.pk).first()  # one replacement at a time
    document.refresh_from_db()
    current = document_permissions_get(document=document)
    users = _principals(User, "username", set(wanted.users) | set(current.users), "users")
    groups = _principals(Group, "name", set(wanted.groups) | set(current.groups), "groups")
    empty: frozenset[str] = frozenset()
    for name, user in users.items():
        before, after = current.users.get(name, empty), wanted.users.get(name, empty)
        _apply(document=document, principal=user, before=before, after=after, actor=actor)
    for name, group in groups.items():
        before, after = current.groups.get(name, empty), wanted.groups.get(name, empty)
        _apply(document=document, principal=group, before=before, after=after, actor=actor)
    if wanted.visible_to_tenant != current.visible_to_tenant:
        document_visibility_set(document=document, visible_to_tenant=wanted.visible_to_tenant, actor=actor)
    document.refresh_from_db()
    return document_permissions_get(document=document)


@transaction.atomic
def document_remove(*, document: Document, actor: User, request=None) -> None:
    audit_event_record(
        action="document.delete",
        actor=actor,
        target=document,
        request=request,
        details={"title": document.title},
    )
    document_delete(document=document)
