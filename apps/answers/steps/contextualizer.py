"""Contextualizer: a follow-up in a conversation becomes a question that stands alone
(apps/answers/followups.py), before the planner screens it and the retriever searches for it."""

from __future__ import annotations

from apps.answers.followups import standalone_question
from apps.answers.orchestrator.state import AnswerState
from apps.answers.orchestrator.trace import StepRecord


def contextualizer_run(state: AnswerState, record: StepRecord) -> None:
    """Rewrites state.question from the thread's earlier questions; the trace says how (no text)."""
    rewrite = standalone_question(state.question, state.earlier_turns)
    state.question, state.focus = rewrite.question, rewrite.focus
    record.summary.update(
        {"earlier_turns": len(state.earlier_turns), "rewritten": bool(state.standalone_question), "rule": rewrite.rule}
    )
