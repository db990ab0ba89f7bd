"""Users and groups as SCIM resources (RFC 7643), and what SCIM may see of them.

SCIM sees the directory's accounts and groups only: users linked to it (DirectoryIdentity) and
not deleted over SCIM, groups marked as its own (DirectoryGroup). Local accounts (the tenant's
administrator, service accounts) and the role groups are invisible to it and cannot be changed
through it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db.models import Prefetch, QuerySet

from apps.accounts.models import User

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def directory_users() -> QuerySet[User]:
    return (
        User.objects.filter(directory_identity__isnull=False, directory_identity__scim_deleted_at__isnull=True)
        .select_related("directory_identity")
        .prefetch_related(Prefetch("groups", queryset=Group.objects.filter(directory_group__isnull=False)))
        .order_by("pk")
    )


def directory_groups() -> QuerySet[Group]:
    return (
        Group.objects.filter(directory_group__isnull=False)
        .select_related("directory_group")
        .prefetch_related(Prefetch("user_set", queryset=directory_users()))
        .order_by("pk")
    )


def user_resource(user: User, base_url: str) -> dict[str, Any]:
    identity = user.directory_identity
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": str(user.pk),
        "userName": user.username,
        "name": {"givenName": user.first_name, "familyName": user.last_name},
        "displayName": user.get_full_name() or user.username,
        "emails": [{"value": user.email, "type": "work", "primary": True}] if user.email else [],
        "active": user.is_active,
        "groups": [{"value": str(group.pk), "display": group.name} for group in user.groups.all()],
        "meta": {
            "resourceType": "User",
            "created": identity.created_at.isoformat(),
            "lastModified": identity.updated_at.isoformat(),
            "location": f"{base_url}/Users/{user.pk}",
        },
    }
    if identity.scim_external_id:
        resource["externalId"] = identity.scim_external_id
    return resource


def group_resource(group: Group, base_url: str, *, with_members: bool = True) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(group.pk),
        "displayName": group.name,
        "meta": {
            "resourceType": "Group",
            "created": group.directory_group.created_at.isoformat(),
            "location": f"{base_url}/Groups/{group.pk}",
        },
    }
    if with_members:
        resource["members"] = [
            {"value": str(user.pk), "display": user.username, "$ref": f"{base_url}/Users/{user.pk}"}
            for user in group.user_set.all()
        ]
    if group.directory_group.scim_external_id:
        resource["externalId"] = group.directory_group.scim_external_id
    return resource


def list_response(resources: list[dict[str, Any]], *, total: int, start_index: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
