"""Reads of the query history: a user sees their own questions only."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet

from apps.accounts.models import User

from .models import QueryLog


def query_history_for_user(*, user: User | AnonymousUser) -> QuerySet[QueryLog]:
    """The user's own rows, newest first (none for anonymous or inactive users)."""
    if not isinstance(user, User) or not user.is_active:
        return QueryLog.objects.none()
    return QueryLog.objects.filter(user=user).order_by("-created_at", "-id")


def query_log_get_for_user(*, user: User | AnonymousUser, query_id: int) -> QueryLog:
    """The row if it is the user's own; raises QueryLog.DoesNotExist otherwise (forbidden looks missing)."""
    return query_history_for_user(user=user).get(pk=query_id)
