"""Reads the portal's pages need beyond what the documents and answers selectors offer.

Permissions always come from apps.documents (PostgreSQL + guardian): these helpers only shape
what those selectors already allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet
from guardian.shortcuts import get_groups_with_perms, get_users_with_perms

from apps.accounts.models import User
from apps.documents.acl import principals_for_user
from apps.documents.models import Chunk, Document
from apps.documents.selectors import chunks_visible_to, documents_visible_to
from apps.ingestion.models import IngestionJob

RECENT_JOBS = 20


def jobs_recent_for_user(*, user: User) -> QuerySet[IngestionJob]:
    """The user's own latest uploads (a job is shown only to whoever uploaded it)."""
    return IngestionJob.objects.filter(created_by=user).order_by("-queued_at")[:RECENT_JOBS]


def documents_search_for_user(*, user: User, query: str = "") -> QuerySet[Document]:
    documents = documents_visible_to(user=user).select_related("uploaded_by")
    if query:
        documents = documents.filter(Q(title__icontains=query) | Q(source__icontains=query))
    return documents.order_by("-created_at", "-pk")


@dataclass(frozen=True)
class DocumentViewers:
    users: list[User]
    groups: list[Group]
    everyone: bool


def document_viewers(*, document: Document) -> DocumentViewers:
    # guardian's return types depend on its flags; these calls return users, and groups -> codenames.
    users = cast(
        "list[User]", list(get_users_with_perms(document, only_with_perms_in=["view_document"], with_group_users=False))
    )
    groups = cast("dict[Group, list[str]]", get_groups_with_perms(document, attach_perms=True))
    return DocumentViewers(
        users=sorted(users, key=lambda user: user.username),
        groups=sorted((group for group, perms in groups.items() if "view_document" in perms), key=lambda g: g.name),
        everyone=document.visible_to_tenant,
    )


def chunks_cited_for_user(*, user: User, chunk_ids: list[int]) -> list[Chunk]:
    """Chunks of a past answer the user may still open, in citation order (permissions re-checked now)."""
    visible = {
        chunk.pk: chunk for chunk in chunks_visible_to(principals=principals_for_user(user), chunk_ids=chunk_ids)
    }
    return [visible[chunk_id] for chunk_id in chunk_ids if chunk_id in visible]
