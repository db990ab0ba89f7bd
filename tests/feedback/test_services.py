"""Feedback: users rate only their own answers; bad input is refused with a reason."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.answers.models import QueryLog
from apps.feedback.models import Feedback
from apps.feedback.selectors import feedback_for_user, feedback_get_for_user
from apps.feedback.services import feedback_review, feedback_submit
from tests.audit.helpers import make_user
from tests.documents.factories import indexed_document

from .factories import query_log

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(in_alpha):
    alice, bob = make_user(), make_user()
    refund = indexed_document(owner=None, title="Refund policy", texts=["Refunds within 30 days.", "Ask Finance."])
    query = query_log(user=alice, question="What is the refund policy?", answer="Within 30 days.", documents=[refund])
    return alice, bob, query


def test_feedback_keeps_a_copy_of_what_it_rates(asked):
    alice, _, query = asked
    first_chunk = query.chunk_ids[0]

    feedback = feedback_submit(
        user=alice,
        query_id=query.pk,
        rating=-1,
        comment="wrong period",
        corrected_answer="60 days",
        flagged_chunk_ids=[first_chunk],
    )

    assert (feedback.query, feedback.user, feedback.rating) == (query, alice, -1)
    assert (feedback.question, feedback.answer) == ("What is the refund policy?", "Within 30 days.")
    assert feedback.cited_chunk_ids == query.chunk_ids
    assert feedback.cited_document_ids == query.document_ids
    assert feedback.flagged_chunk_ids == [first_chunk]
    assert (feedback.comment, feedback.corrected_answer) == ("wrong period", "60 days")


def test_rating_again_replaces_the_earlier_feedback_and_needs_a_new_review(asked):
    alice, bob, query = asked
    first = feedback_submit(user=alice, query_id=query.pk, rating=1)
    feedback_review(feedback=first, reviewer=bob)

    again = feedback_submit(user=alice, query_id=query.pk, rating=-1, comment="on second thought")

    assert again.pk == first.pk
    assert Feedback.objects.filter(query=query).count() == 1
    assert (again.rating, again.reviewed) == (-1, False)


def test_nobody_rates_someone_elses_answer(asked):
    _, bob, query = asked
    with pytest.raises(QueryLog.DoesNotExist):
        feedback_submit(user=bob, query_id=query.pk, rating=1)
    with pytest.raises(QueryLog.DoesNotExist):
        feedback_submit(user=bob, query_id=10**9, rating=1)
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rating": 0}, "rating"),
        ({"rating": 5}, "rating"),
        ({"rating": True}, "rating"),
        ({"rating": 1, "comment": "x" * 5001}, "comment"),
        ({"rating": 1, "corrected_answer": 42}, "corrected_answer"),
        ({"rating": 1, "flagged_chunk_ids": "12"}, "flagged_chunk_ids"),
        ({"rating": 1, "flagged_chunk_ids": [10**9]}, "flagged_chunk_ids"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_changes_nothing(asked, kwargs, field):
    alice, _, query = asked
    with pytest.raises(ValidationError) as raised:
        feedback_submit(user=alice, query_id=query.pk, **kwargs)
    assert field in raised.value.message_dict
    assert not Feedback.objects.exists()


def test_free_text_follows_the_tenants_pii_policy(asked):
    alice, _, query = asked

    feedback = feedback_submit(
        user=alice, query_id=query.pk, rating=-1, comment="mail me at alice.private@example.org please"
    )

    assert "alice.private@example.org" not in feedback.comment


def test_users_see_only_their_own_feedback(asked):
    alice, bob, query = asked
    own = feedback_submit(user=alice, query_id=query.pk, rating=1)
    bobs_query = query_log(user=bob, question="Where is the budget?")
    feedback_submit(user=bob, query_id=bobs_query.pk, rating=-1)

    assert list(feedback_for_user(user=alice)) == [own]
    with pytest.raises(Feedback.DoesNotExist):
        feedback_get_for_user(user=bob, feedback_id=own.pk)


def test_review_phrases_must_be_lists_of_text(asked):
    alice, bob, query = asked
    feedback = feedback_submit(user=alice, query_id=query.pk, rating=1)

    with pytest.raises(ValidationError) as raised:
        feedback_review(feedback=feedback, reviewer=bob, must_contain="30 days")
    assert "must_contain" in raised.value.message_dict

    reviewed = feedback_review(feedback=feedback, reviewer=bob, must_contain=[" 30 days ", ""], must_not_contain=[])
    assert (reviewed.reviewed, reviewed.reviewed_by, reviewed.must_contain) == (True, bob, ["30 days"])
