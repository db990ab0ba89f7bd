"""Entity extraction with no model and no network: names, acronyms, quoted terms and concept phrases.

Why not YAKE (which the requirements carry): measured on MuSiQue paragraphs (~80 words) it runs at
180-250 chunks/s on one core even at n=1, and its 3-grams cut across names ("Physics devoted",
"Carl Rogers beginning"). Names and concepts are what the graph links on, so this module finds them
directly, from one linear regex tokenisation (`tokens`):

- names (`names`): runs of capitalised tokens, with inner connectors ("University of Texas", "Treaty on the
  Functioning of the European Union"); a capitalised stop word never starts one ("The", "However");
  a lone capitalised word opening a sentence is treated as an ordinary word unless the text also
  capitalises it elsewhere ("Brand is a play ..." still yields the key "brand", as a concept);
- acronyms ("GDPR", "VPN", "U.S.", "KAGH-FM");
- quoted terms of one to six words;
- concept phrases (`concepts`): runs of lower-case content words bounded by stop words, common verbs, adverbs and
  punctuation; English noun phrases end in their head, so a run gives its last one to three words
  and the head noun alone ("submit expense reports" -> "expense report", "report").

Bare numbers and dates are left out on purpose: in a co-occurrence graph they become hubs that join
unrelated text. Numbers survive inside names ("Apollo 11", "Boeing B-29 Superfortress").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings

from .base import ExtractedEntity
from .concepts import concept_runs, is_participle
from .keys import entity_key
from .lexicon import GENERIC_NOUNS, STOP_WORDS
from .names import name_spans, name_variants, split_conjunctions, trim_span, valid_name
from .tokens import Token, span_text, tokenise

# Chunks are ~256 tokens (~1,500 characters); a far larger text is a caller bug or hostile input,
# and extracting from its head keeps the cost of one call bounded.
MAX_TEXT_CHARS = 20_000
MAX_NAME_CHARS = 200
MAX_QUOTED_WORDS = 6
QUERY_ENTITY_LIMIT = 24

KIND_NAME = "name"
KIND_ACRONYM = "acronym"
KIND_TERM = "term"
KIND_CONCEPT = "concept"
_KIND_RANK = {KIND_NAME: 3, KIND_ACRONYM: 3, KIND_TERM: 2, KIND_CONCEPT: 1}

# Base scores; repeated mentions add _REPEAT_BONUS each, and weight = 1 - exp(-score) keeps every
# weight in (0, 1) and comparable across chunks (a single-mention name ~0.63, a concept ~0.3-0.4).
_SCORE_NAME = 1.0
_SCORE_NAME_PART = 0.6
_SCORE_TERM = 0.9
_SCORE_PHRASE = 0.5
_SCORE_PHRASE_TAIL = 0.45
_SCORE_SINGLE_CONCEPT = 0.4
_SCORE_HEAD = 0.35
_FIRST_SENTENCE_BONUS = 0.2
_REPEAT_BONUS = 0.3
_SCORE_CAP = 4.0

_CLOSING_QUOTE = {"``": "''", '"': '"', "\u201c": "\u201d", "\u00ab": "\u00bb", "\u201e": "\u201c", "\u2018": "\u2019"}


@dataclass(slots=True)
class _Candidate:
    score: float
    kind: str
    is_part: bool = False  # also seen as part of a longer name, so never folded into it
    surfaces: dict[str, int] = field(default_factory=dict)
    mentions: int = 0


# Surface forms repeat across a corpus ("the company", "Microsoft"); normalising each once is cheaper.
_cached_key = lru_cache(maxsize=65_536)(entity_key)


class _Analysis:
    """Everything found in one text, aggregated by key."""

    def __init__(self) -> None:
        self.candidates: dict[str, _Candidate] = {}

    def add(self, surface: str, *, kind: str, score: float, is_part: bool = False) -> str:
        surface = " ".join(surface.split())[:MAX_NAME_CHARS]
        key = _cached_key(surface)
        if not key or key in STOP_WORDS or len(key) < 2:
            return ""
        candidate = self.candidates.get(key)
        if candidate is None:
            candidate = self.candidates[key] = _Candidate(score=score, kind=kind)
        else:
            candidate.score = max(candidate.score, score) + _REPEAT_BONUS
            if _KIND_RANK[kind] > _KIND_RANK[candidate.kind]:
                candidate.kind = kind
        candidate.is_part = candidate.is_part or is_part
        candidate.mentions += 1
        candidate.surfaces[surface] = candidate.surfaces.get(surface, 0) + 1
        return key

    def entities(self, *, limit: int) -> list[ExtractedEntity]:
        found = [
            ExtractedEntity(
                key=key,
                # The most frequent surface form reads best; ties go to the first seen (dicts keep order).
                name=max(candidate.surfaces.items(), key=lambda item: item[1])[0],
                kind=candidate.kind,
                weight=round(1.0 - math.exp(-min(candidate.score, _SCORE_CAP)), 4),
            )
            for key, candidate in self.candidates.items()
        ]
        found.sort(key=lambda entity: (-entity.weight, entity.key))
        return found[:limit]


def _accept_names(tokens: list[Token], analysis: _Analysis) -> None:
    capitalised_elsewhere = {
        token.lower for token in tokens if token.kind == "word" and token.capitalised and not token.sentence_start
    }
    first_sentence_end = next((index for index, token in enumerate(tokens) if token.kind == "stop"), len(tokens))
    for span in name_spans(tokens):
        pieces = split_conjunctions(span)
        if len(pieces) > 1:
            whole = trim_span(span)
            ampersand = any(token.text == "&" for token in whole)
            # "Procter & Gamble", "Pride and Prejudice" name one thing; "Neil Young and Astrid Young" two.
            if 1 < len(whole) <= 4 and (ampersand or all(len(piece) == 1 for piece in pieces)):
                score = _SCORE_NAME if ampersand else _SCORE_NAME_PART
                analysis.add(span_text(whole), kind=KIND_NAME, score=score, is_part=not ampersand)
        for piece in pieces:
            piece = trim_span(piece)
            if not valid_name(piece, capitalised_elsewhere=capitalised_elsewhere):
                continue
            for token in piece:
                token.name = True
            in_first_sentence = piece[0].position < first_sentence_end
            single_acronym = len(piece) == 1 and piece[0].acronym
            score = _SCORE_NAME + (_FIRST_SENTENCE_BONUS if in_first_sentence else 0.0)
            analysis.add(span_text(piece), kind=KIND_ACRONYM if single_acronym else KIND_NAME, score=score)
            for variant in name_variants(piece):
                variant = trim_span(variant)
                if valid_name(variant, capitalised_elsewhere=capitalised_elsewhere):
                    analysis.add(span_text(variant), kind=KIND_NAME, score=_SCORE_NAME_PART, is_part=True)


def _merge_short_names(analysis: _Analysis) -> None:
    """Fold a surname into the one longer name ending in it: "Solovej" after "Jan Philip Solovej" is him.

    Only surnames: "Gisvi Isaque Andrade Antunes, known simply as Gisvi" keeps "Gisvi" apart, and
    so do the shorter names `name_variants` adds on purpose.
    """
    names = sorted(
        (key for key, candidate in analysis.candidates.items() if candidate.kind == KIND_NAME),
        key=lambda key: (len(key.split()), key),
    )
    for short in names:
        if len(short.split()) > 2 or analysis.candidates[short].is_part:
            continue
        containing = [
            key
            for key, candidate in analysis.candidates.items()
            if key != short and candidate.kind == KIND_NAME and not candidate.is_part and key.endswith(f" {short}")
        ]
        if len(containing) == 1:
            short_candidate = analysis.candidates.pop(short)
            target = analysis.candidates[containing[0]]
            target.score += _REPEAT_BONUS * short_candidate.mentions
            target.mentions += short_candidate.mentions


def _accept_concepts(tokens: list[Token], analysis: _Analysis) -> None:
    for run in concept_runs(tokens):
        while run and is_participle(run[-1].lower):
            run = run[:-1]  # "psychotherapy developed" -> "psychotherapy"
        if not run:
            continue
        words = [token.lower for token in run[-3:]]
        head = words[-1]
        if len(words) == 1:
            if head not in GENERIC_NOUNS and len(head) >= 3:
                analysis.add(head, kind=KIND_CONCEPT, score=_SCORE_SINGLE_CONCEPT)
            continue
        analysis.add(" ".join(words), kind=KIND_CONCEPT, score=_SCORE_PHRASE)
        if len(words) == 3:
            analysis.add(" ".join(words[1:]), kind=KIND_CONCEPT, score=_SCORE_PHRASE_TAIL)
        if head not in GENERIC_NOUNS and len(head) >= 3:
            analysis.add(head, kind=KIND_CONCEPT, score=_SCORE_HEAD)


def _accept_quoted(tokens: list[Token], analysis: _Analysis) -> None:
    index = 0
    while index < len(tokens):
        token = tokens[index]
        closing = _CLOSING_QUOTE.get(token.text) if token.kind == "quote" else None
        if closing is None:
            index += 1
            continue
        end = next(
            (
                position
                for position in range(index + 1, min(index + MAX_QUOTED_WORDS + 2, len(tokens)))
                if tokens[position].kind == "quote"
            ),
            None,
        )
        if end is None or tokens[end].text not in (closing, '"', "\u201d"):
            index += 1
            continue
        inner = tokens[index + 1 : end]
        words = [item for item in inner if item.kind in ("word", "abbr", "num", "hyphen")]
        if inner and len(words) == len(inner) and any(item.lower not in STOP_WORDS for item in words if item.lower):
            analysis.add(span_text(item for item in inner if item.kind != "hyphen"), kind=KIND_TERM, score=_SCORE_TERM)
        index = end + 1


def _analyse(text: str) -> _Analysis:
    analysis = _Analysis()
    tokens = tokenise(text[:MAX_TEXT_CHARS])
    if not tokens:
        return analysis
    _accept_names(tokens, analysis)
    _merge_short_names(analysis)
    _accept_quoted(tokens, analysis)
    _accept_concepts(tokens, analysis)
    return analysis


class OfflineEntityExtractor:
    """Deterministic, dependency-free extraction; the default without an LLM key, and the LLM's fallback."""

    def __init__(self, *, max_per_chunk: int | None = None) -> None:
        self.max_per_chunk = max_per_chunk if max_per_chunk is not None else settings.ENTITY_MAX_PER_CHUNK

    def extract(self, *, texts: list[str]) -> list[list[ExtractedEntity]]:
        return [_analyse(text or "").entities(limit=self.max_per_chunk) for text in texts]


def extract_query_entities(*, text: str, limit: int = QUERY_ENTITY_LIMIT) -> list[ExtractedEntity]:
    """Entities of a question, keyed exactly like chunk entities so the two meet in the graph.

    Always offline: it runs on every question, must be fast, and must not depend on which extractor
    built the graph (both use `entity_key`). Questions are short and often lower-case, so the limit is
    looser than per chunk and concepts are kept: "who founded the company that makes the iphone" gives
    "company" and "iphone".
    """
    return _analyse(text or "").entities(limit=limit)
