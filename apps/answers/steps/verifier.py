"""Verifier: each answer sentence must be supported by a passage it cites, or it is dropped.

A citation supports a sentence when the passage holds most of the sentence's terms (stemmed), or,
for a paraphrase, when one of the passage's sentences is close in embedding space. Any number the
sentence states must appear in a supporting passage ("45 days" against a passage saying "30 days"
is dropped however similar the rest is). Citations to numbers that are not evidence are removed.
A sentence in which the model says the passages do not answer is never shown: as the answer's
first sentence it makes the answer a refusal (reason `model_refused`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from django.conf import settings

from apps.answers.citations import cited_numbers, without_markers
from apps.answers.evidence.text import LIST_MARKER, numbers_in, split_sentences, term_set
from apps.integrations.embeddings.factory import embedder
from apps.integrations.llm.base import EvidencePassage


@dataclass(frozen=True)
class SentenceVerdict:
    kept: bool
    supporting: tuple[int, ...]  # evidence numbers that support the sentence
    # why it was dropped: model_refusal | uncited | unknown_citation | unsupported | unsupported_number
    reason: str = ""


class Evidence:
    """The passages of one answer, with their terms and numbers computed once."""

    def __init__(self, passages: Sequence[EvidencePassage]) -> None:
        self.passages = {passage.number: passage for passage in passages}

    @cached_property
    def _terms(self) -> dict[int, frozenset[str]]:
        return {number: term_set(f"{passage.title}\n{passage.text}") for number, passage in self.passages.items()}

    @cached_property
    def _numbers(self) -> dict[int, set[str]]:
        return {number: numbers_in(passage.text) for number, passage in self.passages.items()}

    def terms(self, number: int) -> frozenset[str]:
        return self._terms[number]

    def numbers(self, number: int) -> set[str]:
        return self._numbers[number]


# A model saying the passages do not answer: the prompt asks for the fixed refusal, models paraphrase it.
_SOURCES = r"(?:passages?|documents?|sources?|(?:provided|given) (?:text|information|material))"
_NOT = r"(?:do(?:es)?\s*(?:not|n't)|don't|doesn't|never|fails? to)"
_SAY = r"(?:contain|mention|say|state|answer|provide|include|specify|cover|address|discuss|describe|give)"
MODEL_REFUSAL = re.compile(
    rf"\b(?:i|we)\s+(?:could|can|was|were)\s*(?:not|n't)\s+(?:find|locate|determine)\b"
    rf"|\b{_SOURCES}\b.{{0,80}}\b{_NOT}\s+(?:\w+\s+)?{_SAY}"
    rf"|\bno (?:information|mention|details?|answer)\b.{{0,60}}\b{_SOURCES}\b"
    rf"|\b{_SOURCES}\b.{{0,60}}\b(?:no|not any) (?:information|mention|details?)\b"
    rf"|\bnone of the (?:\w+\s+)?{_SOURCES}\b"
    r"|\bnicht (?:finden|beantworten)\b|\b(?:enthalten|nennen|erwähnen) (?:keine|nicht)\b",
    re.IGNORECASE,
)


def model_refusal(sentence: str) -> bool:
    """The model says the passages do not hold the answer (in its own words, cited or not)."""
    return bool(MODEL_REFUSAL.search(without_markers(sentence)))


def sentence_verify(sentence: str, *, evidence: Evidence) -> SentenceVerdict:
    if model_refusal(sentence):
        return SentenceVerdict(kept=False, supporting=(), reason="model_refusal")
    cited = cited_numbers(sentence)
    if not cited:
        return SentenceVerdict(kept=False, supporting=(), reason="uncited")
    known = [number for number in cited if number in evidence.passages]
    if not known:
        return SentenceVerdict(kept=False, supporting=(), reason="unknown_citation")
    claim = LIST_MARKER.sub("", without_markers(sentence))
    # Word overlap first (cheap, and decisive for quotes); embeddings only when no citation passes it.
    supporting = _worded_alike(claim, known, evidence) or _paraphrased(claim, known, evidence)
    if not supporting:
        return SentenceVerdict(kept=False, supporting=(), reason="unsupported")
    stated = numbers_in(claim)
    if stated and not stated <= set().union(*(evidence.numbers(number) for number in supporting)):
        return SentenceVerdict(kept=False, supporting=(), reason="unsupported_number")
    return SentenceVerdict(kept=True, supporting=supporting)


def _worded_alike(claim: str, numbers: list[int], evidence: Evidence) -> tuple[int, ...]:
    claim_terms = term_set(claim)
    if not claim_terms:
        return tuple(numbers)  # "Yes [1]." states nothing a passage could contradict
    minimum = settings.ANSWER_SUPPORT_MIN_TERM_OVERLAP
    return tuple(n for n in numbers if len(claim_terms & evidence.terms(n)) / len(claim_terms) >= minimum)


def _paraphrased(claim: str, numbers: list[int], evidence: Evidence) -> tuple[int, ...]:
    """Cited passages holding a sentence close to the claim in embedding space (one batched call)."""
    sentences = {n: split_sentences(evidence.passages[n].text) for n in numbers}
    flat = [sentence for n in numbers for sentence in sentences[n]]
    if not flat:
        return ()
    vectors = embedder().embed_documents([claim, *flat])
    similarities = (vectors[1:] @ vectors[0]).tolist()
    supporting, start = [], 0
    for n in numbers:
        count = len(sentences[n])
        if count and max(similarities[start : start + count]) >= settings.ANSWER_SUPPORT_MIN_SIMILARITY:
            supporting.append(n)
        start += count
    return tuple(supporting)
