"""The offline answer provider: the best supporting sentences of the passages, each cited.

No model and no network, so the portal answers without an API key. Sentences are ranked by
similarity to the question and coverage of its terms (apps.answers.evidence); the best one is
always used and leads, up to two more of the same document follow when they score nearly as well
and add something new (of another document too when the question has several hops and the
sentence brings a term of the question the answer lacks), and the best one's section follows:
whole when it has at most about sixty words, else what comes after it (the condition, exception or
steps of a rule) up to that many. A sentence that asks two things ("... and can I carry them over?")
gets the best sentence for each. A table row or JSON record about another thing than the question names
is no answer. Records arrive as readable sentences (apps/answers/evidence/records.py). Each
sentence is quoted verbatim with its passage number, so the verifier can check it word for word.
Whether the evidence suffices is decided before a provider is called (the synthesizer step).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from apps.answers.citations import MARKER
from apps.answers.evidence import ScoredSentence
from apps.answers.evidence.answer_types import names_unmatched, thing_asked_to_exist
from apps.answers.evidence.sentences import CLOSE_SCORE_WINDOW, follow_up_rank, sentences_rank
from apps.answers.evidence.text import question_terms, term_set
from apps.integrations.llm.base import Completion, EvidencePassage, GenerationEvent, GenerationRequest, TextDelta
from apps.text.questions import asked_parts, asked_sentence

MODEL_NAME = "extractive"
MAX_SENTENCES = 3
# A further sentence must score within this distance of the best one (a tighter one when it comes
# from another passage). Other documents join only a question of several hops, and only with a
# term of the question the answer lacks: otherwise a near-miss from elsewhere reads as a non
# sequitur ("lost laptop" answered with how new hires collect theirs)...
SCORE_WINDOW = CLOSE_SCORE_WINDOW  # the same window names the documents that came close to a refusal
SCORE_WINDOW_OTHER_PASSAGE = 0.06
# ...and bring new terms: more than this share of its terms must be new to the answer.
MIN_NEW_TERMS = 0.4
# The best sentence's section around it continues the answer up to this many words (not for a
# record: the next row of a table is another office, not more about this one). Measured over every answer set
# (docs/answers.md): token recall of the annotators' answers rises 0.10-0.12 on ClapNQ and E-Manual
# and 0.03 on ConditionalQA, and no handbook answer loses its fact.
SECTION_WORDS = 60
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
            ranked = about_what_is_asked(ranked, asked=request.focus or request.question, passages=request.passages)
            asked = question_terms(request.focus or request.question) if request.multi_hop else None
            chosen = sentences_choose(ranked, hops_asking=asked)
            chosen = _each_ask_answered(chosen, request=request)
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


def _each_ask_answered(chosen: list[ScoredSentence], *, request: GenerationRequest) -> list[ScoredSentence]:
    """For a question that asks two things ("How many vacation days do I get and can I carry them
    over?"), the best sentence for each ask that the answer does not hold yet, after the rest. Each
    ask is ranked alone: ranked with the whole question too (as a follow-up's focus is), the carry-over
    sentence led both asks and the 28 days never came."""
    if not chosen:
        return chosen
    asked = request.focus or request.question
    parts = asked_parts(asked_sentence(asked))
    if len(parts) < 2:
        return chosen
    taken = {(s.passage_number, s.position) for s in chosen}
    added = []
    for part in parts:
        on_part = sentences_rank(question=part, passages=request.passages)
        ranked = about_what_is_asked(on_part, asked=asked, passages=request.passages)
        if ranked and (ranked[0].passage_number, ranked[0].position) not in taken:
            taken.add((ranked[0].passage_number, ranked[0].position))
            added.append(ranked[0])
    return chosen + added


def about_what_is_asked(
    ranked: list[ScoredSentence], *, asked: str, passages: Sequence[EvidencePassage]
) -> list[ScoredSentence]:
    """Without the records that do not name what the question names. A row of a table or an object
    of a JSON document is about the thing it names: asked for "the Hamburg office", Berlin's row is
    another office's address, not an answer; asked "Is there a gym at the Lisbon office?", Lisbon's
    row, which has no gym among its fields, is no answer either. A prose sentence stays (it may say
    "the office", or answer "Is there a limit ...?" without the word). When the best sentence is
    such a record and no row names the thing, nothing is left: the evidence that fits the question
    best is about another thing, and a prose sentence would be a near miss."""
    titles = {passage.number: passage.title for passage in passages}
    thing = thing_asked_to_exist(asked)
    thing_terms = term_set(thing) if thing else frozenset()

    def about_another_thing(sentence: ScoredSentence) -> bool:
        if not sentence.record:
            return False
        context = f"{titles.get(sentence.passage_number, '')}\n{sentence.section}\n{sentence.text}"
        lacks_the_thing = bool(thing_terms) and not thing_terms & term_set(context)
        return lacks_the_thing or bool(names_unmatched(asked, [context]))

    elsewhere = [about_another_thing(sentence) for sentence in ranked]
    kept = [sentence for sentence, other in zip(ranked, elsewhere, strict=True) if not other]
    if elsewhere and elsewhere[0] and not any(sentence.record for sentence in kept):
        return []
    return kept


def sentences_choose(
    ranked: list[ScoredSentence], *, hops_asking: frozenset[str] | None = None
) -> list[ScoredSentence]:
    """`hops_asking`: the terms of a question of several hops, whose answer may span documents."""
    if not ranked:
        return []
    best = ranked[0]
    chosen = _nearly_as_good(ranked, hops_asking=hops_asking)
    chosen += _section_continuation(ranked, chosen)
    # The best sentence leads; the rest follow in document order within each passage, passages in
    # the order of their best sentence, so an answer reads as the documents do.
    passage_rank = {number: rank for rank, number in enumerate(dict.fromkeys(s.passage_number for s in chosen))}
    return [best, *sorted(chosen[1:], key=lambda s: (passage_rank[s.passage_number], s.position))]


def _nearly_as_good(ranked: list[ScoredSentence], *, hops_asking: frozenset[str] | None) -> list[ScoredSentence]:
    """The best sentence and up to two more that score nearly as well and add new terms."""
    best = ranked[0]
    chosen = [best]
    covered = set(term_set(best.text))
    for sentence in ranked[1:]:
        if len(chosen) == MAX_SENTENCES or sentence.score < best.score - SCORE_WINDOW:
            break
        sentence_terms = term_set(sentence.text)
        if not _may_join(sentence, best=best, brings=sentence_terms - covered, hops_asking=hops_asking):
            continue
        if not sentence_terms or len(sentence_terms - covered) / len(sentence_terms) <= MIN_NEW_TERMS:
            continue  # a near-repeat of what the answer already says
        chosen.append(sentence)
        covered |= sentence_terms
    return chosen


def _may_join(
    sentence: ScoredSentence, *, best: ScoredSentence, brings: frozenset[str], hops_asking: frozenset[str] | None
) -> bool:
    """Another passage's sentence joins only when it scores very nearly as well, and another document's
    only when the question has several hops and the sentence brings a term of it the answer lacks."""
    if sentence.passage_number == best.passage_number:
        return True
    if sentence.score < best.score - SCORE_WINDOW_OTHER_PASSAGE:
        return False
    return sentence.document_id == best.document_id or bool(hops_asking and brings & hops_asking)


def _section_continuation(ranked: list[ScoredSentence], chosen: list[ScoredSentence]) -> list[ScoredSentence]:
    """The best sentence's section: whole when it is short (a section of steps answers "what do I
    do on day one" whichever step matched best), else the sentences after the best one (the
    condition, exception or steps of a rule) until the answer has SECTION_WORDS words."""
    best = ranked[0]
    if best.record:
        return []
    section = _section_of(ranked, best)
    taken = {s.position for s in chosen if s.passage_number == best.passage_number}
    if sum(len(s.text.split()) for s in section) <= SECTION_WORDS:
        return [s for s in section if s.position not in taken]
    words = sum(len(s.text.split()) for s in chosen)
    following = []
    for sentence in section:
        if words >= SECTION_WORDS:
            break
        if sentence.position > best.position and sentence.position not in taken:
            following.append(sentence)
            words += len(sentence.text.split())
    return following


def _section_of(ranked: list[ScoredSentence], best: ScoredSentence) -> list[ScoredSentence]:
    """The prose sentences around the best one, in order, up to where its section ends."""
    in_passage = {s.position: s for s in ranked if s.passage_number == best.passage_number}

    def same_section(position: int) -> bool:
        sentence = in_passage.get(position)
        return sentence is not None and sentence.section == best.section and not sentence.record

    first = best.position
    while same_section(first - 1):
        first -= 1
    last = best.position
    while same_section(last + 1):
        last += 1
    return [in_passage[position] for position in range(first, last + 1)]


def _cited(sentence: ScoredSentence) -> str:
    """The sentence with its passage number before the final punctuation: "... 30 days [1]."."""
    text = MARKER.sub("", sentence.text).strip()
    body = text.rstrip(" .!?;:")
    ending = text[len(body) :].strip()[:1] or "."
    return f"{body} [{sentence.passage_number}]{ending}"
