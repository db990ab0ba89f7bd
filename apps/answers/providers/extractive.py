"""The offline answer provider: the best supporting sentences of the passages, each cited.

No model and no network, so the portal answers without an API key. Sentences are ranked by
similarity to the question and coverage of its terms (apps.answers.evidence); the best one is
always used and leads, and up to two more follow when they score nearly as well and add something
new. Records of tables and JSON arrive as readable sentences (apps/answers/evidence/records.py). Each
sentence is quoted verbatim with its passage number, so the verifier can check it word for word.
Whether the evidence suffices is decided before a provider is called (the synthesizer step).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from apps.answers.citations import MARKER
from apps.answers.evidence import ScoredSentence
from apps.answers.evidence.sentences import follow_up_rank
from apps.answers.evidence.text import term_set
from apps.integrations.llm.base import Completion, GenerationEvent, GenerationRequest, TextDelta

MODEL_NAME = "extractive"
MAX_SENTENCES = 3
# A further sentence must score within this distance of the best one (a tighter one when it comes
# from another passage: a near-miss from elsewhere reads as a non sequitur, "lost laptop" answered
# with how new hires collect theirs)...
SCORE_WINDOW = 0.12
SCORE_WINDOW_OTHER_PASSAGE = 0.06
# ...and bring new terms: more than this share of its terms must be new to the answer.
MIN_NEW_TERMS = 0.4
TOKEN = re.compile(r"\S+\s*")
NOT_FOUND = "I could not find this in the documents you can access."


class ExtractiveProvider:
    name = "extractive"

    def __init__(self, **options: object) -> None:
        self.options = options

    def stream(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        if request.evidence_borderline:
            chosen = []  # it cannot tell a near miss from an answer; the evidence check could not either
        else:
            ranked = follow_up_rank(question=request.question, focus=request.focus, passages=request.passages)
            chosen = sentences_choose(ranked)
        text = " ".join(_cited(sentence) for sentence in chosen) if chosen else NOT_FOUND
        emitted = 0
        for token in TOKEN.findall(text):
            if emitted >= request.max_tokens:
                break
            emitted += 1
            yield TextDelta(token)
        yield Completion(
            model=request.model or MODEL_NAME,
            input_tokens=len(request.question.split()) + sum(len(passage.text.split()) for passage in request.passages),
            output_tokens=emitted,
            stop_reason="end_turn" if emitted == len(TOKEN.findall(text)) else "max_tokens",
        )


def sentences_choose(ranked: list[ScoredSentence]) -> list[ScoredSentence]:
    if not ranked:
        return []
    best = ranked[0]
    chosen = [best]
    covered = set(term_set(best.text))
    for sentence in ranked[1:]:
        if len(chosen) == MAX_SENTENCES or sentence.score < best.score - SCORE_WINDOW:
            break
        if sentence.passage_number != best.passage_number and sentence.score < best.score - SCORE_WINDOW_OTHER_PASSAGE:
            continue
        sentence_terms = term_set(sentence.text)
        if not sentence_terms or len(sentence_terms - covered) / len(sentence_terms) <= MIN_NEW_TERMS:
            continue  # a near-repeat of what the answer already says
        chosen.append(sentence)
        covered |= sentence_terms
    # The best sentence leads; the rest follow in document order within each passage, passages in
    # the order of their best sentence, so an answer reads as the documents do.
    passage_rank = {number: rank for rank, number in enumerate(dict.fromkeys(s.passage_number for s in chosen))}
    return [best, *sorted(chosen[1:], key=lambda s: (passage_rank[s.passage_number], s.position))]


def _cited(sentence: ScoredSentence) -> str:
    """The sentence with its passage number before the final punctuation: "... 30 days [1]."."""
    text = MARKER.sub("", sentence.text).strip()
    body = text.rstrip(" .!?;:")
    ending = text[len(body) :].strip()[:1] or "."
    return f"{body} [{sentence.passage_number}]{ending}"
