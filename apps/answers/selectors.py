"""Reads of the query history: a user sees their own questions only."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from apps.accounts.models import User
from apps.documents.acl import principals_for_user
from apps.documents.selectors import chunks_visible_to

from .models import QueryLog


def query_history_for_user(*, user: User | AnonymousUser) -> QuerySet[QueryLog]:
    """The user's own rows, newest first (none for anonymous or inactive users)."""
    if not isinstance(user, User) or not user.is_active:
        return QueryLog.objects.none()
    return QueryLog.objects.filter(user=user).order_by("-created_at", "-id")


def query_log_get_for_user(*, user: User | AnonymousUser, query_id: int) -> QueryLog:
    """The row if it is the user's own; raises QueryLog.DoesNotExist otherwise (forbidden looks missing)."""
    return query_history_for_user(user=user).get(pk=query_id)


def query_logs_withheld(*, user: User | AnonymousUser, entries: Iterable[QueryLog]) -> set[int]:
    """Ids of the entries whose answer the user may no longer read: it cited a passage the user cannot
    open today (access revoked, or the document deleted). The answer's text quotes those passages, so
    it is withheld like the citations themselves; one query for the whole page."""
    entries = list(entries)
    cited = {chunk_id for entry in entries for chunk_id in entry.chunk_ids or []}
    principals = principals_for_user(user) if isinstance(user, User) else []
    visible = set(chunks_visible_to(principals=principals, chunk_ids=cited).values_list("pk", flat=True))
    return {entry.pk for entry in entries if not set(entry.chunk_ids or []) <= visible}
