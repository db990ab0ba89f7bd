"""The contract every answer-generation provider meets, and the errors the model router acts on.

A provider turns one `GenerationRequest` into a stream of `TextDelta`s closed by one `Completion`.
Providers are chosen by name from `settings.LLM_PROVIDERS` (dotted paths, loaded like
EMAIL_BACKEND) and called only through the model router, which owns fallbacks, budgets and
concurrency limits.

Cancellation: closing the generator returned by `stream()` (the consumer went away) must stop the
work and release the upstream connection; providers therefore do their I/O inside the generator.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class EvidencePassage:
    """One retrieved chunk the answer may cite as `[number]`; its text is untrusted data."""

    number: int
    chunk_id: int
    document_id: int
    title: str
    text: str
    score: float = 0.0


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a provider needs: the prompt for chat models, the raw evidence for the extractive one."""

    question: str
    passages: Sequence[EvidencePassage]
    system: str
    prompt: str
    max_tokens: int
    model: str = ""  # empty: the provider's configured default
    timeout_seconds: float = 30.0
    # The evidence check found the passages borderline and left the judgement to the model: a provider
    # that cannot judge (the extractive one, reached by fallback) says it found nothing.
    evidence_borderline: bool = False
    # What a follow-up adds to the question it continues ("part-timers" in "How many vacation days
    # do I get per year, for part-timers?"). A chat model reads the whole question and may ignore it;
    # the extractive provider ranks sentences against it too.
    focus: str = ""
    # The planner split the question into hops ("the composer of the opera that ..."): its answer may
    # need a sentence from each of several documents.
    multi_hop: bool = False


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Completion:
    model: str
    input_tokens: int
    output_tokens: int
    stop_reason: str = "end_turn"


GenerationEvent = TextDelta | Completion


class LLMProvider(Protocol):
    name: str

    def stream(self, request: GenerationRequest) -> Iterator[GenerationEvent]: ...


class ProviderError(Exception):
    """A provider call failed; `retriable` errors make the router try the next provider."""

    retriable = False

    def __init__(self, message: str, *, provider: str = "") -> None:
        super().__init__(message)
        self.provider = provider


class ProviderTimeoutError(ProviderError):
    retriable = True


class ProviderRateLimitedError(ProviderError):
    """429 from the provider, or our own per-provider quota."""

    retriable = True


class ProviderOverloadedError(ProviderError):
    """529 (Anthropic's overloaded_error)."""

    retriable = True


class ProviderServerError(ProviderError):
    """5xx or a broken connection."""

    retriable = True


class ProviderRequestError(ProviderError):
    """4xx other than 429: our request is wrong; another provider would not help with the same input."""
