"""Conversations: follow-ups answered in context, every turn under today's permissions, threads
owned by one user, removable from History but kept in the query log, and covered by erasure and
retention (offline extractive provider, real retrieval legs, the committed handbook tenant)."""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps
from django.utils import timezone

from apps.accounts.models import User
from apps.answers.conversations import conversation_remove
from apps.answers.models import Conversation, QueryLog
from apps.answers.selectors import conversation_turns, conversations_for_user
from apps.answers.services import AnswerResult, answer_question
from apps.audit.models import AuditEvent
from apps.compliance.erasure import ERASED_TEXT, user_erase
from apps.compliance.retention import expired_data_purge
from apps.documents.services import document_access_grant, document_access_revoke
from apps.tenants.context import in_tenant

from .conftest import FALCON_QUESTION

pytestmark = pytest.mark.integration


def ask(corpus, user, question: str, conversation_id: int | None = None) -> AnswerResult:
    with in_tenant(corpus.schema):
        result = answer_question(user=user, question=question, use_cache=False, conversation_id=conversation_id)
    assert isinstance(result, AnswerResult)
    return result


def test_a_three_turn_conversation_about_the_handbook_answers_its_follow_ups(answers_corpus, committed_db):
    carol = answers_corpus.carol
    first = ask(answers_corpus, carol, "How many vacation days do I get per year?")
    second = ask(answers_corpus, carol, "And for part-timers?", first.conversation_id)
    third = ask(answers_corpus, carol, "Can I carry them over to next year?", first.conversation_id)

    assert first.outcome == second.outcome == third.outcome == "answered"
    assert "28 days" in first.answer
    assert second.answer.startswith("Part-time employees receive leave pro rata")  # the follow-up's own fact leads
    assert "5 unused days" in third.answer
    assert first.conversation_id is not None
    assert second.conversation_id == third.conversation_id == first.conversation_id
    assert first.standalone_question == ""
    assert second.standalone_question == "How many vacation days do I get per year, for part-timers?"
    assert third.standalone_question == "Can I carry the vacation days over to next year?"
    assert second.trace["steps"][0]["name"] == "contextualizer"
    assert second.trace["steps"][0]["summary"] == {"earlier_turns": 1, "rewritten": True, "rule": "ellipsis"}
    with in_tenant(answers_corpus.schema):
        conversation = Conversation.objects.get(pk=first.conversation_id)
        turns = list(conversation_turns(conversation=conversation))
    assert [turn.query for turn in turns] == [
        "How many vacation days do I get per year?",
        "And for part-timers?",
        "Can I carry them over to next year?",
    ]
    assert [turn.standalone_query for turn in turns] == ["", second.standalone_question, third.standalone_question]
    assert conversation.title == "How many vacation days do I get per year?"


def test_without_a_conversation_each_question_starts_its_own(answers_corpus, committed_db):
    one = ask(answers_corpus, answers_corpus.carol, "How many vacation days do I get per year?")
    two = ask(answers_corpus, answers_corpus.carol, "And for part-timers?")

    assert one.conversation_id != two.conversation_id
    assert two.standalone_question == ""  # nothing to follow up on: not rewritten


def test_a_follow_up_is_answered_only_from_what_the_user_may_open_now(answers_corpus, committed_db):
    alice, memo = answers_corpus.alice, answers_corpus.falcon_memo
    first = ask(answers_corpus, alice, FALCON_QUESTION)
    assert memo.pk in {citation["document_id"] for citation in first.citations}

    with in_tenant(answers_corpus.schema):
        document_access_revoke(document=memo, principal=alice)
    try:
        follow_up = ask(answers_corpus, alice, "Who approves it?", first.conversation_id)
    finally:
        with in_tenant(answers_corpus.schema):
            document_access_grant(document=memo, principal=alice)

    assert follow_up.standalone_question  # it was read against the earlier question ...
    assert memo.pk not in {citation["document_id"] for citation in follow_up.citations}  # ... not its passages
    assert "Chief Revenue Officer" not in follow_up.answer


def test_nobody_can_continue_or_read_another_users_conversation(answers_corpus, committed_db):
    mine = ask(answers_corpus, answers_corpus.alice, "How many vacation days do I get per year?")
    assert mine.conversation_id is not None
    with in_tenant(answers_corpus.schema):
        before = QueryLog.objects.count()
        with pytest.raises(Conversation.DoesNotExist):
            answer_question(
                user=answers_corpus.carol, question="And for part-timers?", conversation_id=mine.conversation_id
            )
        assert QueryLog.objects.count() == before  # refused before anything ran or was stored
        assert not conversations_for_user(user=answers_corpus.carol).filter(pk=mine.conversation_id).exists()
        with pytest.raises(Conversation.DoesNotExist):
            conversation_remove(user=answers_corpus.carol, conversation_id=mine.conversation_id)


def test_a_removed_conversation_leaves_history_but_stays_in_the_query_log_and_is_audited(answers_corpus, committed_db):
    carol = answers_corpus.carol
    asked = ask(answers_corpus, carol, "How do I reset my password?")
    assert asked.conversation_id is not None
    with in_tenant(answers_corpus.schema):
        conversation_remove(user=carol, conversation_id=asked.conversation_id)

        assert not conversations_for_user(user=carol).filter(pk=asked.conversation_id).exists()
        assert QueryLog.objects.filter(pk=asked.query_id, conversation_id=asked.conversation_id).exists()
        event = AuditEvent.objects.filter(action="conversation.removed").latest("sequence")
        assert (event.actor_id, event.target_id, event.details) == (carol.pk, str(asked.conversation_id), {"turns": 1})
        assert event.target_label == f"conversation:{asked.conversation_id}"  # never the question's words
        with pytest.raises(Conversation.DoesNotExist):
            answer_question(user=carol, question="And for contractors?", conversation_id=asked.conversation_id)


def test_erasure_removes_the_persons_words_from_their_conversations(answers_corpus, committed_db):
    with in_tenant(answers_corpus.schema):
        dana = User.objects.create_user(username="dana-conversations", password="x" * 16)
    first = ask(answers_corpus, dana, "How many vacation days do I get per year?")
    follow_up = ask(answers_corpus, dana, "And for part-timers?", first.conversation_id)
    with in_tenant(answers_corpus.schema):
        report = user_erase(user_id=dana.pk)
        conversation = Conversation.objects.get(pk=first.conversation_id)
        row = QueryLog.objects.get(pk=follow_up.query_id)

    assert report.conversations == 1
    assert (conversation.title, conversation.user_id) == (ERASED_TEXT, None)
    assert (row.query, row.standalone_query, row.answer, row.user_id) == (ERASED_TEXT, ERASED_TEXT, ERASED_TEXT, None)


def test_retention_removes_a_conversation_with_its_last_question(answers_corpus, committed_db):
    kept = ask(answers_corpus, answers_corpus.carol, "What's the hotel budget per night in a big city?")
    expired = ask(answers_corpus, answers_corpus.carol, "How do I reset my password?")
    with in_tenant(answers_corpus.schema):
        long_ago = timezone.now() - timedelta(days=4000)
        Conversation.objects.filter(pk=expired.conversation_id).update(updated_at=long_ago, created_at=long_ago)
        QueryLog.objects.filter(pk=expired.query_id).update(created_at=long_ago)
        report = expired_data_purge()
        assert report.conversations >= 1
        assert not Conversation.objects.filter(pk=expired.conversation_id).exists()
        assert Conversation.objects.filter(pk=kept.conversation_id).exists()


def test_questions_asked_before_conversations_existed_each_get_one(answers_corpus, committed_db):
    migration = import_module("apps.answers.migrations.0003_conversations_for_earlier_questions")
    asked_at = timezone.now() - timedelta(days=3)
    with in_tenant(answers_corpus.schema):
        earlier = [
            QueryLog.objects.create(
                user=answers_corpus.carol, tenant_schema=answers_corpus.schema, query=text, outcome="answered"
            )
            for text in ("What is the refund policy?", "x" * 300)
        ]
        QueryLog.objects.filter(pk__in=[row.pk for row in earlier]).update(created_at=asked_at)

        migration.one_conversation_per_earlier_question(apps, None)

        rows = list(QueryLog.objects.filter(pk__in=[row.pk for row in earlier]).select_related("conversation"))
    assert len({row.conversation_id for row in rows}) == 2
    assert {row.conversation.title for row in rows} == {"What is the refund policy?", "x" * 199 + "…"}
    assert all(row.conversation.user_id == answers_corpus.carol.pk for row in rows)
    assert all(row.conversation.updated_at == row.conversation.created_at == asked_at for row in rows)
