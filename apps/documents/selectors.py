"""Reads that respect permissions. Forbidden and missing look the same (both `DoesNotExist`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import QuerySet
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import get_group_perms, get_objects_for_user, get_user_perms

from apps.accounts.models import User
from apps.accounts.roles import TENANT_ADMINS_GROUP

from .acl import principals_for_user
from .models import Chunk, Document


def documents_visible_to(*, user: User) -> QuerySet[Document]:
    principals = principals_for_user(user)
    if not principals:
        return Document.objects.none()
    return Document.objects.filter(acl__overlap=principals)


def document_permission_held(*, user: User, document: Document, permission: str) -> bool:
    """Whether the user holds `permission` ("change_document", "delete_document") on this document:
    superusers, and whoever was granted it on the document itself (or through a group). A model-wide
    permission does not count: it opens the admin's pages, not every company document (third
    attack pass: a staff user with model-wide document permissions published and deleted a private
    document he was only allowed to read)."""
    if not user.is_active:
        return False
    return ObjectPermissionChecker(user).has_perm(permission, document)


def document_grants_allowed(*, actor: User | None, document: Document, permissions: list[str]) -> None:
    """Whoever grants a right on a document holds it there (viewers aside: managers add viewers);
    raises PermissionDenied otherwise. No actor: the operator's command line."""
    for permission in permissions:
        held = actor is None or permission == "view_document"
        if not held and not document_permission_held(user=actor, document=document, permission=permission):  # type: ignore[arg-type]
            raise PermissionDenied(f"You cannot grant {permission.split('_')[0]} rights you do not hold.")


def document_revokes_allowed(
    *, actor: User | None, document: Document, principal: User | Group, permissions: list[str]
) -> None:
    """Whoever takes a right away holds it there, as for grants (fifth attack pass: a colleague with
    change rights took the owner's delete right, and a tenant admin without rights took an owner's
    document from him). Taking viewing away also takes every right the principal holds there (they
    can no longer reach the document), so the actor must hold those too. Raises PermissionDenied."""
    direct = (
        get_group_perms(principal, document) if isinstance(principal, Group) else get_user_perms(principal, document)
    )
    held = {str(codename) for codename in direct}  # guardian returns codenames
    taken = set(permissions) & held
    if "view_document" in taken:
        taken |= held
    for permission in sorted(taken - {"view_document"}):
        if actor is not None and not document_permission_held(user=actor, document=document, permission=permission):
            raise PermissionDenied(f"You cannot take away {permission.split('_')[0]} rights you do not hold.")


def document_managed_by(*, user: User, document: Document) -> bool:
    """Who manages the viewers of a document they can see (portal, admin): owners (change permission
    granted on the document), tenant admins and superusers. Callers look the document up among those
    the user may view first, so nobody manages, or learns of, a document they cannot see."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or user.groups.filter(name=TENANT_ADMINS_GROUP).exists():
        return True
    return document_permission_held(user=user, document=document, permission="change_document")


def document_for_user(*, user: User, document_id: int) -> Document:
    """The document if the user may view it; raises Document.DoesNotExist otherwise (a 404)."""
    return documents_visible_to(user=user).get(pk=document_id)


def chunks_visible_to(*, principals: list[str], chunk_ids: Iterable[int]) -> QuerySet[Chunk]:
    """The final check before a chunk reaches a prompt, a source list or a citation."""
    ids = list(chunk_ids)
    if not principals or not ids:
        return Chunk.objects.none()
    # The embedding is never needed past this check, and decoding 384 floats per row cost most of
    # the check's time (8 of 10 ms for 30 chunks, on every uncached question).
    return (
        Chunk.objects.filter(pk__in=ids, acl__overlap=principals, document__status=Document.Status.INDEXED)
        .select_related("document")
        .defer("embedding")
    )


# For each term, how many chunks the principals may view use it, counted up to a cap (enough to rank
# spelling suggestions; a common term's postings are not all read).
_PASSAGES_USING_SQL = """
SELECT t.term, (
    SELECT count(*) FROM (
        SELECT 1 FROM documents_keywordposting p
        JOIN documents_chunk c ON c.id = p.chunk_id
        JOIN documents_document d ON d.id = c.document_id
        WHERE p.term = t.term AND c.acl && %(principals)s::varchar[] AND d.status = %(indexed)s
        LIMIT %(cap)s
    ) AS used
) FROM unnest(%(terms)s::text[]) AS t(term)
"""


def passages_using(*, principals: list[str], terms: Iterable[str], cap: int = 50) -> dict[str, int]:
    """Terms the principals' viewable passages use, with how many use each (at most `cap`); a term no
    such passage uses is absent. A word of a document they may not view is as unknown as no word."""
    wanted = sorted(set(terms))
    if not principals or not wanted:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            _PASSAGES_USING_SQL,
            {"principals": principals, "terms": wanted, "cap": cap, "indexed": Document.Status.INDEXED},
        )
        return {term: used for term, used in cursor.fetchall() if used}


def user_access_covers(*, holder: User, other: User) -> bool:
    """Whether `holder` may view every document `other` may view: the test for anything that lets one
    user act as another (an API key minted for a colleague must not read more than its creator)."""
    if holder.pk == other.pk or holder.is_superuser:
        return True
    if other.is_superuser or not holder.is_active:
        return False
    views_more = (
        Document.objects.filter(acl__overlap=principals_for_user(other))
        .exclude(acl__overlap=principals_for_user(holder))
        .exclude(uploaded_by=other, delegated_upload_by_id=holder.pk)  # see _granted_beyond
        .exists()
    )
    return not views_more and not any(
        _granted_beyond(holder, other, permission) for permission in RIGHTS_BEYOND_VIEWING
    )


# Rights on a document beyond reading it, granted on the document (guardian): a key acting as a
# service account that may delete a document must not be made by someone who may only read it.
RIGHTS_BEYOND_VIEWING = ("documents.change_document", "documents.delete_document")


def _granted_beyond(holder: User, other: User, permission: str) -> bool:
    """Whether `other` was granted `permission` on a document on which `holder` was not. What
    `other` uploaded through keys `holder` made does not count: an integration's key manages its own
    uploads (counting them stopped every integration's key after its first upload). Uploads through
    anyone else's keys do count (fifth attack pass: a tenant admin minted a key for a service account
    and read what it had uploaded through a superuser's key)."""
    theirs = get_objects_for_user(
        other, permission, klass=Document, accept_global_perms=False, with_superuser=False
    ).exclude(uploaded_by=other, delegated_upload_by_id=holder.pk)
    ours = get_objects_for_user(holder, permission, klass=Document, accept_global_perms=False, with_superuser=False)
    return theirs.exclude(pk__in=ours.values("pk")).exists()
