"""Reads of feedback. Users only ever see their own rows (others' look missing)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import User

from .models import Feedback


def feedback_for_user(*, user: User) -> QuerySet[Feedback]:
    """The user's own feedback, newest first; nothing for anonymous or inactive users."""
    if not user.is_authenticated or not user.is_active:
        return Feedback.objects.none()
    return Feedback.objects.filter(user=user)


def feedback_get_for_user(*, user: User, feedback_id: int) -> Feedback:
    """Raises Feedback.DoesNotExist for someone else's row, like for a missing one."""
    return feedback_for_user(user=user).get(pk=feedback_id)


def feedback_reviewed_for_golden_set() -> QuerySet[Feedback]:
    """Reviewed feedback that still has its question (erased users' rows are gone)."""
    return Feedback.objects.filter(reviewed=True).exclude(question="").order_by("pk")
