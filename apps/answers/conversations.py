"""Writes on conversations other than asking in them (apps.answers.services.answer_question)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.services import AuditTarget, audit_event_record

from .selectors import conversation_get_for_user


def conversation_remove(*, user: User | AnonymousUser, conversation_id: int) -> None:
    """Remove the user's thread from their history (raises Conversation.DoesNotExist for anybody
    else's). Its questions stay in the query log until retention or erasure; the removal is audited."""
    with transaction.atomic():
        conversation = conversation_get_for_user(user=user, conversation_id=conversation_id)
        conversation.removed_at = timezone.now()
        conversation.save(update_fields=["removed_at"])
        audit_event_record(
            action="conversation.removed",
            actor=user,
            target=AuditTarget(
                type="answers.conversation", id=str(conversation.pk), label=f"conversation:{conversation.pk}"
            ),
            details={"turns": conversation.turn_count},  # type: ignore[attr-defined]
        )
