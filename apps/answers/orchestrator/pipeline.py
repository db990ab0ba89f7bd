"""The answer pipeline: (contextualizer ->) (speller ->) planner -> retriever -> synthesizer -> verifier
-> critic -> citation -> formatter.

A generator of `token` and `citation` events. The synthesizer's text is cut into sentences as it
streams; each sentence is verified and its citations renumbered before it is yielded, so nothing
unsupported is ever shown, and the first sentence reaches the user while the rest is generated.
Closing the generator closes the router's stream (and with it the provider's connection).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

from apps.answers import messages
from apps.answers.citations import CitationRegistry, SentenceAssembler, StreamedSentence, markers_rewritten
from apps.answers.errors import QueryTimeoutError
from apps.answers.events import CITATION, TOKEN, AnswerEvent
from apps.answers.response_cache import response_cache_get, response_cache_set
from apps.answers.router import AllProvidersFailedError, GenerationRecord
from apps.answers.safety.content_filter import content_filters_run
from apps.answers.safety.pii import pii_mask_for_answers
from apps.answers.steps.contextualizer import contextualizer_run
from apps.answers.steps.critic import answer_critique
from apps.answers.steps.formatter import formatter_run
from apps.answers.steps.planner import planner_run
from apps.answers.steps.retriever import retriever_run
from apps.answers.steps.speller import speller_run, speller_wanted
from apps.answers.steps.synthesizer import synthesis_start
from apps.answers.steps.verifier import Evidence, sentence_verify
from apps.integrations.llm.base import ProviderTimeoutError

from .runner import StepRunner
from .state import CHIT_CHAT, OUT_OF_SCOPE, AnswerState, EmittedPiece

# A provider failing this close to the deadline was cut off by it (its timeout is the time left).
DEADLINE_SLACK_SECONDS = 0.25


class AnswerBlocked(Exception):
    """A content filter refused a sentence of the answer."""


class ModelRefused(Exception):
    """The model opened its answer by saying the passages do not answer the question."""


def answer_pipeline(state: AnswerState, runner: StepRunner) -> Generator[AnswerEvent, None, None]:
    if state.earlier_turns:
        with runner.step("contextualizer") as record:
            contextualizer_run(state, record)
    if speller_wanted(state):
        with runner.step("speller") as record:
            speller_run(state, record)
    with runner.step("planner") as record:
        planner_run(state, record)
    registry = CitationRegistry(passages=(), chunks={})
    if state.outcome == "blocked":
        yield from _fixed(state, str(messages.BLOCKED))
    elif state.plan is not None and state.plan.kind == CHIT_CHAT:
        state.outcome = "answered"
        yield from _fixed(state, str(messages.CHIT_CHAT))
    elif state.plan is not None and state.plan.kind == OUT_OF_SCOPE:
        state.outcome, state.reason = "refused", "out_of_scope"
        yield from _fixed(state, str(messages.OUT_OF_SCOPE))
    else:
        registry = yield from _answer_from_documents(state, runner)
    with runner.step("formatter") as record:
        formatter_run(state, registry, record)


def _answer_from_documents(state: AnswerState, runner: StepRunner) -> Generator[AnswerEvent, None, CitationRegistry]:
    with runner.step("retriever") as record:
        cached = response_cache_get(state, record)
        if cached is None:
            retriever_run(state, record)
    registry = CitationRegistry(
        passages=state.passages,
        chunks=state.chunks_by_number,
        shown=partial(pii_mask_for_answers, schema_name=state.tenant_schema),
    )
    if cached is not None:
        yield from _replay(state, cached, registry)
        return registry
    try:
        yield from _compose(state, runner, registry)
    except ModelRefused:
        state.pieces, registry.citations = [], []
        state.reason = "model_refused"
    except AnswerBlocked as blocked:
        state.outcome, state.reason = "blocked", "content_filter"
        state.pieces, registry.citations = [], []
        runner.trace.step("verifier").summary["content_filter"] = str(blocked)
        yield from _fixed(state, str(messages.BLOCKED))
        return registry
    with runner.step("critic") as record:
        critique = answer_critique(state, cited_evidence=set(registry.shown))
        record.summary.update({"coverage": round(critique.coverage, 3), "refused": critique.refuse})
    if critique.refuse:
        state.outcome, state.reason = "refused", critique.reason
        yield from _fixed(state, str(messages.REFUSAL))
        if state.assessment is not None and state.assessment.borderline:
            state.related = registry.related(state.closest_passages)
    else:
        state.outcome = "answered"
        if critique.add_note:
            yield from _fixed(state, str(messages.LOW_COVERAGE_NOTE), separator="\n\n")
    response_cache_set(state, registry)
    return registry


def _compose(state: AnswerState, runner: StepRunner, registry: CitationRegistry) -> Iterator[AnswerEvent]:
    generation = GenerationRecord()
    with runner.step("synthesizer") as record:
        time_left = runner.budget_left("synthesizer")
        deltas = synthesis_start(state, record, generation=generation, timeout_seconds=time_left)
    if deltas is None:
        return  # refused: an abandoned speculative call (prefetch.py) may still be filling `generation`
    try:
        with _closing(deltas):
            evidence = Evidence(state.passages)
            assembler = SentenceAssembler()
            while True:
                delta = _next_delta(deltas, runner)
                if delta is None:
                    break
                for sentence in assembler.feed(delta):
                    yield from _verified(state, runner, sentence, evidence, registry)
        for sentence in assembler.flush():
            yield from _verified(state, runner, sentence, evidence, registry)
    finally:
        state.provider, state.model = generation.provider, generation.model
        state.fallbacks = list(generation.fallbacks)
        state.input_tokens, state.output_tokens = generation.input_tokens, generation.output_tokens


def _next_delta(deltas: Iterator[str], runner: StepRunner) -> str | None:
    try:
        with runner.step("synthesizer"):
            return next(deltas, None)
    except (AllProvidersFailedError, ProviderTimeoutError) as failure:
        # The provider's timeout was what was left of the question's time: that is our timeout, not its failure.
        if runner.budget_left("synthesizer") < DEADLINE_SLACK_SECONDS:
            runner.trace.step("synthesizer").outcome = "timed_out"
            raise QueryTimeoutError(
                "the answer provider ran out of the question's time", step="synthesizer"
            ) from failure
        raise


def _verified(
    state: AnswerState,
    runner: StepRunner,
    sentence: StreamedSentence,
    evidence: Evidence,
    registry: CitationRegistry,
) -> Iterator[AnswerEvent]:
    if state.prompt_masker is not None:
        sentence = replace(sentence, text=state.prompt_masker.restore(sentence.text))
    with runner.step("verifier") as record:
        verdict = sentence_verify(sentence.text, evidence=evidence)
        tally: Counter = Counter(record.summary.get("dropped", {}))
        record.summary["sentences_in"] = record.summary.get("sentences_in", 0) + 1
        if not verdict.kept:
            tally[verdict.reason] += 1
            record.summary["dropped"] = dict(tally)
            if verdict.reason == "model_refusal" and not state.pieces:
                raise ModelRefused  # closes the stream; nothing of it was shown
            return
        record.summary["sentences_out"] = record.summary.get("sentences_out", 0) + 1
        screened = content_filters_run(text=sentence.text, stage="answer")
        if not screened.allowed:
            raise AnswerBlocked(screened.reason)
    with runner.step("citation") as record:
        new = registry.register(verdict.supporting)
        text = markers_rewritten(sentence.text, {number: registry.shown[number] for number in verdict.supporting})
        record.summary["citations"] = len(registry.citations)
    yield from _piece(state, EmittedPiece(text=(sentence.separator if state.pieces else "") + text, citations=new))


def _fixed(state: AnswerState, text: str, *, separator: str = "") -> Iterator[AnswerEvent]:
    """A fixed message in place of the answer (or, with a separator, after it)."""
    if not separator:
        state.pieces = []
    yield from _piece(state, EmittedPiece(text=(separator if state.pieces else "") + text))


def _replay(state: AnswerState, cached: dict[str, Any], registry: CitationRegistry) -> Iterator[AnswerEvent]:
    state.cached = True
    for field in ("outcome", "reason", "provider", "model", "leg_statuses"):
        setattr(state, field, cached[field])
    state.related = cached.get("related", [])
    registry.citations = [citation for piece in cached["pieces"] for citation in piece["citations"]]
    for piece in cached["pieces"]:
        yield from _piece(state, EmittedPiece(text=piece["text"], citations=piece["citations"]))


def _piece(state: AnswerState, piece: EmittedPiece) -> Iterator[AnswerEvent]:
    # The tenant's answer policy applies to everything shown, a cached answer's replay included.
    # (Citations are masked where they are made, CitationRegistry(shown=...); a cached answer's were
    # made under the same policy, which its cache key includes.)
    piece = replace(piece, text=pii_mask_for_answers(piece.text, schema_name=state.tenant_schema))
    state.pieces.append(piece)
    for citation in piece.citations:
        yield AnswerEvent(CITATION, citation)
    yield AnswerEvent(TOKEN, {"text": piece.text})


@contextmanager
def _closing(stream: Iterator[str]) -> Iterator[Iterator[str]]:
    """Close the router's generator however the block ends (cancelled, timed out, failed)."""
    try:
        yield stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
