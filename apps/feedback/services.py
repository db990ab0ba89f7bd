"""Writes on feedback: users rate their own answers; reviewers turn feedback into golden-set cases."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.answers.models import QueryLog
from apps.answers.selectors import query_log_get_for_user

from .models import Feedback

COMMENT_MAX_CHARS = 5_000
CORRECTED_ANSWER_MAX_CHARS = 20_000
PHRASES_MAX = 50
PHRASE_MAX_CHARS = 500


@transaction.atomic
def feedback_submit(
    *,
    user: User,
    query_id: int,
    rating: int,
    comment: str = "",
    corrected_answer: str = "",
    flagged_chunk_ids: Sequence[int] = (),
) -> Feedback:
    """Rate one of the user's own answers (+1 / -1); rating it again replaces the earlier feedback.

    Raises QueryLog.DoesNotExist for someone else's or a missing query (the two look the same),
    and ValidationError (field -> messages) for bad input, changing nothing.
    """
    query = query_log_get_for_user(user=user, query_id=query_id)
    cleaned = _validated(query, rating, comment, corrected_answer, flagged_chunk_ids)
    feedback, _ = Feedback.objects.update_or_create(
        query=query,
        user=user,
        defaults={
            **cleaned,
            "question": query.query,
            "answer": query.answer,
            "cited_chunk_ids": list(query.chunk_ids or []),
            "cited_document_ids": list(query.document_ids or []),
            # New feedback on a reviewed row needs a new review.
            "reviewed": False,
            "reviewed_by": None,
            "reviewed_at": None,
        },
    )
    return feedback


def _validated(
    query: QueryLog, rating: Any, comment: Any, corrected_answer: Any, flagged_chunk_ids: Any
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if isinstance(rating, bool) or rating not in (1, -1):
        errors["rating"] = ["must be 1 (helpful) or -1 (not helpful)"]
    for name, value, limit in (
        ("comment", comment, COMMENT_MAX_CHARS),
        ("corrected_answer", corrected_answer, CORRECTED_ANSWER_MAX_CHARS),
    ):
        if not isinstance(value, str):
            errors[name] = ["must be text"]
        elif len(value) > limit:
            errors[name] = [f"must be at most {limit} characters"]
    flagged = _flagged(query, flagged_chunk_ids, errors)
    if errors:
        raise ValidationError(errors)
    return {
        "rating": rating,
        "comment": _redacted(comment.strip()),
        "corrected_answer": _redacted(corrected_answer.strip()),
        "flagged_chunk_ids": flagged,
    }


def _flagged(query: QueryLog, chunk_ids: Any, errors: dict[str, list[str]]) -> list[int]:
    """Only chunks the answer cited can be flagged (and nothing else about chunks is revealed)."""
    if isinstance(chunk_ids, str | bytes) or not isinstance(chunk_ids, Iterable):
        errors["flagged_chunk_ids"] = ["must be a list of chunk ids"]
        return []
    ids = list(chunk_ids)
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in ids):
        errors["flagged_chunk_ids"] = ["must be a list of chunk ids"]
        return []
    not_cited = sorted(set(ids) - set(query.chunk_ids or []))
    if not_cited:
        errors["flagged_chunk_ids"] = [f"these chunks were not cited by the answer: {not_cited}"]
    return sorted(set(ids))


def _redacted(text: str) -> str:
    """Free text is stored under the tenant's PII policy, like the question itself."""
    if not text:
        return text
    from apps.answers.safety.pii import pii_redact
    from apps.tenants.selectors import tenant_settings_get

    policy = tenant_settings_get(schema_name=connection.schema_name)  # type: ignore[attr-defined]
    if not policy.pii_redaction_enabled:
        return text
    return pii_redact(text, kinds=policy.pii_kinds).text


@transaction.atomic
def feedback_review(
    *,
    feedback: Feedback,
    reviewer: User,
    must_contain: Sequence[str] | None = None,
    must_not_contain: Sequence[str] | None = None,
) -> Feedback:
    """Mark feedback reviewed, optionally with the phrases its golden-set case checks."""
    locked = Feedback.objects.select_for_update().get(pk=feedback.pk)
    errors: dict[str, list[str]] = {}
    for name, phrases in (("must_contain", must_contain), ("must_not_contain", must_not_contain)):
        if phrases is None:
            continue
        problem = review_phrases_problem(phrases)
        if problem:
            errors[name] = [problem]
        else:
            setattr(locked, name, [phrase.strip() for phrase in phrases if phrase.strip()])
    if errors:
        raise ValidationError(errors)
    locked.reviewed, locked.reviewed_by, locked.reviewed_at = True, reviewer, timezone.now()
    locked.save()
    return locked


def review_phrases_problem(phrases: Any) -> str:
    if isinstance(phrases, str) or not isinstance(phrases, Sequence):
        return "must be a list of phrases"
    if len(phrases) > PHRASES_MAX:
        return f"at most {PHRASES_MAX} phrases"
    if not all(isinstance(phrase, str) and len(phrase) <= PHRASE_MAX_CHARS for phrase in phrases):
        return f"each phrase must be text of at most {PHRASE_MAX_CHARS} characters"
    return ""
