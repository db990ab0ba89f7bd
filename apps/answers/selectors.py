"""Reads of the query history and conversations: a user sees their own only."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import Count, QuerySet

from apps.accounts.models import User
from apps.documents.acl import principals_for_user
from apps.documents.selectors import chunks_visible_to

from .followups import Turn
from .models import Conversation, QueryLog

# How many earlier questions a follow-up is read against (the latest ones).
TURNS_FOR_REWRITE = 6

# Read before every follow-up: plain SQL, because building the ORM query (a join and four filters)
# cost a web worker more CPU than PostgreSQL spent answering it (py-spy, docs/portal.md).
_TURNS_FOR_REWRITE_SQL = """
SELECT t.query, t.standalone_query FROM {turns} t JOIN {threads} c ON c.id = t.conversation_id
WHERE t.conversation_id = %(conversation_id)s AND c.user_id = %(user_id)s AND c.removed_at IS NULL
  AND t.outcome = ANY(%(outcomes)s)
ORDER BY t.created_at DESC, t.id DESC
LIMIT %(limit)s
"""


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


def conversations_for_user(*, user: User | AnonymousUser) -> QuerySet[Conversation]:
    """The user's own threads (not removed), most recently continued first, with their number of turns."""
    return _own_conversations(user).annotate(turn_count=Count("turns")).order_by("-updated_at", "-id")


def _own_conversations(user: User | AnonymousUser) -> QuerySet[Conversation]:
    if not isinstance(user, User) or not user.is_active:
        return Conversation.objects.none()
    return Conversation.objects.filter(user=user, removed_at__isnull=True)


def conversation_get_for_user(*, user: User | AnonymousUser, conversation_id: int) -> Conversation:
    """The thread if it is the user's own; raises Conversation.DoesNotExist otherwise."""
    return conversations_for_user(user=user).get(pk=conversation_id)


def conversation_turns(*, conversation: Conversation) -> QuerySet[QueryLog]:
    """Its questions, oldest first."""
    return conversation.turns.order_by("created_at", "id")


def conversation_turns_for_rewrite(*, user: User | AnonymousUser, conversation_id: int) -> tuple[Turn, ...]:
    """The latest earlier questions of the user's thread, oldest first, as a follow-up is read
    against them: questions only (never answers or passages), and only those that were answered
    or refused (a blocked question does not shape the next one). Raises Conversation.DoesNotExist
    for anybody else's thread. One indexed read when the thread has such turns (the usual case),
    a second only to tell an empty thread of the user's from anybody else's: this runs before every
    follow-up."""
    rows: list[tuple[str, str]] = []
    if isinstance(user, User) and user.is_active:
        with connection.cursor() as cursor:
            cursor.execute(
                _TURNS_FOR_REWRITE_SQL.format(
                    turns=connection.ops.quote_name(QueryLog._meta.db_table),
                    threads=connection.ops.quote_name(Conversation._meta.db_table),
                ),
                {
                    "conversation_id": conversation_id,
                    "user_id": user.pk,
                    "outcomes": [QueryLog.Outcome.ANSWERED.value, QueryLog.Outcome.REFUSED.value],
                    "limit": TURNS_FOR_REWRITE,
                },
            )
            rows = cursor.fetchall()
    if not rows and not _own_conversations(user).filter(pk=conversation_id).exists():
        raise Conversation.DoesNotExist(f"no conversation {conversation_id} of this user")
    return tuple(Turn(asked=asked, standalone=standalone) for asked, standalone in reversed(rows))
