"""Critic: does the verified answer cover the question? None left means a refusal; thin coverage, a note.

Coverage is the share of the question's terms found in the answer or in the passages it cites:
an answer that only talks around the question ("refunds" asked, "refund approvals" answered)
gets a note saying the documents may not cover every part of it, unless the evidence check was
confident (a paraphrased question covers few of its own terms however good the answer).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from apps.answers.citations import without_markers
from apps.answers.evidence.text import term_set
from apps.answers.orchestrator.state import AnswerState

# Evidence at least this confident (the sufficiency model's probability) gets no "may not cover" note.
NOTE_ONLY_BELOW_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Critique:
    refuse: bool
    coverage: float
    add_note: bool
    reason: str = ""


def answer_critique(state: AnswerState, *, cited_evidence: set[int]) -> Critique:
    if not state.pieces:
        reason = state.reason or ("no_evidence" if not state.passages else "no_supported_sentence")
        return Critique(refuse=True, coverage=0.0, add_note=False, reason=reason)
    wanted = term_set(state.question)
    if not wanted:
        return Critique(refuse=False, coverage=1.0, add_note=False)
    found = set(term_set(without_markers(state.answer)))
    for passage in state.passages:
        if passage.number in cited_evidence:
            found |= term_set(f"{passage.title}\n{passage.text}")
    coverage = len(wanted & found) / len(wanted)
    # A question in other words than the documents' ("per km" for "per kilometre") covers few of
    # its terms even when the evidence plainly answers it: the note is for doubtful evidence only.
    confident = state.assessment is not None and state.assessment.confidence >= NOTE_ONLY_BELOW_CONFIDENCE
    return Critique(refuse=False, coverage=coverage, add_note=coverage < settings.ANSWER_MIN_COVERAGE and not confident)
