"""The critic's note that the documents may not cover the question: for doubtful evidence only."""

from __future__ import annotations

import pytest

from apps.answers.evidence import EvidenceAssessment
from apps.answers.orchestrator.state import AnswerState, EmittedPiece
from apps.answers.steps.critic import NOTE_ONLY_BELOW_CONFIDENCE, answer_critique
from apps.integrations.llm.base import EvidencePassage

PASSAGE = EvidencePassage(
    number=1, chunk_id=1, document_id=1, title="Travel", text="Business trips in a private car are reimbursed."
)


def state_for(question: str, *, confidence: float) -> AnswerState:
    state = AnswerState(user=None, question=question, tenant_schema="t", principals=(), channel="eval")  # type: ignore[arg-type]
    state.passages = [PASSAGE]
    state.pieces = [EmittedPiece(text="Business trips in a private car are reimbursed [1].")]
    state.assessment = EvidenceAssessment(sufficient=True, confidence=confidence, reason="")
    return state


@pytest.mark.parametrize(
    ("confidence", "noted"), [(NOTE_ONLY_BELOW_CONFIDENCE - 0.2, True), (NOTE_ONLY_BELOW_CONFIDENCE + 0.2, False)]
)
def test_a_paraphrased_question_gets_the_note_only_when_the_evidence_was_doubtful(confidence, noted):
    question = "How much money per km do I get when I drive my own auto for work?"
    critique = answer_critique(state_for(question, confidence=confidence), cited_evidence={1})

    assert critique.coverage < 0.34
    assert critique.add_note is noted
    assert not critique.refuse
