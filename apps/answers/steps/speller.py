"""Speller: typos in the question corrected to the words of the documents the asker may view
(apps/text/spelling.py), after a follow-up was made to stand alone and before the planner reads it.

Runs only when a word of the question is unknown to the English word list or a contraction lacks
its apostrophe ("whats"); most questions have neither: no database read, no step in the trace. The
answer says how it understood the question ("Understood as: what's the hotel limit in berlin"), as it
does for a rewritten follow-up.
"""

from __future__ import annotations

from django.conf import settings

from apps.answers.orchestrator.state import AnswerState
from apps.answers.orchestrator.trace import StepRecord
from apps.documents.selectors import passages_using
from apps.text.spelling import apostrophes_missing, spelling_corrected, typo_suspects, words_replaced


def speller_wanted(state: AnswerState) -> bool:
    question = state.question
    return settings.ANSWER_SPELLING_CORRECTION and bool(apostrophes_missing(question) or typo_suspects(question))


def speller_run(state: AnswerState, record: StepRecord) -> None:
    """Rewrites state.question (and a follow-up's focus, a part of it); the trace counts the words
    replaced, no text."""
    principals = list(state.principals)
    correction = spelling_corrected(
        state.question, passages_using=lambda terms: passages_using(principals=principals, terms=terms)
    )
    state.question = correction.text
    if state.focus:
        state.focus = words_replaced(state.focus, correction.replaced)
    record.summary.update({"words_corrected": len(correction.replaced)})
