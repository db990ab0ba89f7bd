"""ACL principals: the strings that connect users to the documents they may view.

A user holds `tenant:all`, `user:<id>`, `group:<id>` for each group, and `role:superuser` if they
are a superuser. A document's ACL lists the principals that may view it. A chunk is visible when
the two lists overlap, a test PostgreSQL (`&&` on a GIN-indexed array) and Cypher can both run.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.aggregates import ArrayAgg
from django.db import connection
from django.db.models import CharField, Q, QuerySet, Value
from guardian.models import GroupObjectPermission, UserObjectPermission

from apps.accounts.models import User
from apps.core.process_cache import process_cache_get

from .models import Document

TENANT_WIDE = "tenant:all"
SUPERUSER = "role:superuser"
VIEW_PERMISSION = "view_document"


def user_principal(user_id: int) -> str:
    return f"user:{user_id}"


def group_principal(group_id: int) -> str:
    return f"group:{group_id}"


# Set by users_with_group_ids: the user's groups, read in the query that loaded the user.
GROUP_IDS_ATTRIBUTE = "acl_group_ids"


def users_with_group_ids(users: QuerySet[User]) -> QuerySet[User]:
    """Load each user's group ids with the user (API authentication): one query per request, not two."""
    return users.annotate(**{GROUP_IDS_ATTRIBUTE: ArrayAgg("groups__id", filter=Q(groups__isnull=False), default=[])})


def principals_for_user(user: User) -> list[str]:
    """Sorted, so the list can be part of a cache key. Inactive or anonymous users hold nothing."""
    if not user.is_authenticated or not user.is_active:
        return []
    principals = {TENANT_WIDE, user_principal(user.pk)}
    group_ids = getattr(user, GROUP_IDS_ATTRIBUTE, None)
    if group_ids is None:
        cache_key = (connection.schema_name, user.pk)  # type: ignore[attr-defined]
        group_ids = process_cache_get("user-group-ids", cache_key, lambda: _group_ids_read(user))
    principals.update(group_principal(group_id) for group_id in group_ids)
    if user.is_superuser:
        principals.add(SUPERUSER)
    return sorted(principals)


def _group_ids_read(user: User) -> list[int]:
    return list(user.groups.values_list("id", flat=True))


def acl_for_new_document(*, visible_to_tenant: bool, owner: User | None) -> list[str]:
    """What `acl_for_document` reads for a document just created with its owner's grants and no others."""
    principals = {SUPERUSER}
    if visible_to_tenant:
        principals.add(TENANT_WIDE)
    if owner is not None:
        principals.add(user_principal(owner.pk))
    return sorted(principals)


def acl_for_document(document: Document) -> list[str]:
    """Who may view the document, read from django-guardian's tables (the source of truth)."""
    return acls_for_documents([document])[document.pk]


def acls_for_documents(documents: Sequence[Document]) -> dict[int, list[str]]:
    """`acl_for_document` for many documents: users' and groups' grants in one round trip."""
    if not documents:
        return {}
    content_type = ContentType.objects.get_for_model(Document)
    grants = {
        "content_type": content_type,
        "object_pk__in": [str(document.pk) for document in documents],
        "permission__codename": VIEW_PERMISSION,
    }
    principals: dict[str, set[str]] = {}
    for document in documents:
        principals[str(document.pk)] = {SUPERUSER, TENANT_WIDE} if document.visible_to_tenant else {SUPERUSER}
    users = (
        UserObjectPermission.objects.filter(**grants)
        .annotate(kind=Value("user", output_field=CharField()))
        .values_list("object_pk", "kind", "user_id")
    )
    groups = (
        GroupObjectPermission.objects.filter(**grants)
        .annotate(kind=Value("group", output_field=CharField()))
        .values_list("object_pk", "kind", "group_id")
    )
    for object_pk, holder, holder_id in users.union(groups, all=True):
        principals[object_pk].add(user_principal(holder_id) if holder == "user" else group_principal(holder_id))
    return {document.pk: sorted(principals[str(document.pk)]) for document in documents}
