"""Configured providers, their process-wide concurrency slots, and one provider's attempt at an answer."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string

from apps.core import metrics
from apps.core.errors import AdapterConfigurationError
from apps.core.observability.genai import ModelCallSpan
from apps.integrations.llm.base import Completion, GenerationRequest, LLMProvider, ProviderError, TextDelta

from .budget import CHARS_PER_TOKEN, estimated_input_tokens
from .records import GenerationRecord, fallback_reason


@dataclass(frozen=True)
class ProviderConfig:
    """One entry of settings.LLM_PROVIDERS."""

    name: str
    backend: str
    model: str = ""
    max_concurrency: int = 4
    timeout: float = 30.0
    metered: bool = True
    speculative: bool = False  # started while the evidence is judged (router/prefetch.py)
    judges_evidence: bool = False  # borderline evidence is left to the model, which may refuse
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, name: str, entry: Mapping[str, Any]) -> ProviderConfig:
        if not entry.get("BACKEND"):
            raise AdapterConfigurationError(f"settings.LLM_PROVIDERS[{name!r}] has no BACKEND")
        return cls(
            name=name,
            backend=entry["BACKEND"],
            model=entry.get("MODEL", ""),
            max_concurrency=int(entry.get("MAX_CONCURRENCY", 4)),
            timeout=float(entry.get("TIMEOUT", 30.0)),
            metered=bool(entry.get("METERED", True)),
            speculative=bool(entry.get("SPECULATIVE", False)),
            judges_evidence=bool(entry.get("JUDGES_EVIDENCE", False)),
            options=entry.get("OPTIONS", {}),
        )

    def build(self) -> LLMProvider:
        try:
            provider_class = import_string(self.backend)
        except ImportError as error:
            raise AdapterConfigurationError(f"LLM provider {self.name!r}: cannot import {self.backend!r}") from error
        provider: LLMProvider = provider_class(**self.options)
        return provider

    def request_for(self, request: GenerationRequest) -> GenerationRequest:
        return dataclasses.replace(
            request, model=request.model or self.model, timeout_seconds=min(request.timeout_seconds, self.timeout)
        )


_END = object()

# Process-wide: every router built in this process shares one semaphore per provider name and size,
# so a settings change (or a test's override) gets a fresh one instead of resizing one in use.
_semaphores: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


def provider_semaphore(name: str, size: int) -> threading.BoundedSemaphore:
    with _semaphores_lock:
        return _semaphores.setdefault((name, size), threading.BoundedSemaphore(max(size, 1)))


@dataclass
class ProviderAttempt:
    """One provider's try at the answer: streams its text, fills the record, reports metrics."""

    config: ProviderConfig
    request: GenerationRequest
    record: GenerationRecord
    tenant_schema: str
    started: bool = False
    succeeded: bool = False
    text_chars: int = 0
    completion: Completion | None = None

    def run(self) -> Iterator[str]:
        began = time.perf_counter()
        outcome = "cancelled"  # unless the stream ends or fails: the consumer closed it
        events: Iterator[Any] | None = None
        call: ModelCallSpan | None = None
        try:
            provider = self.config.build()
            call = self._call_span(provider)
            with call.active():
                events = provider.stream(self.request)
            yield from self._texts(self._steps(events, call), began, call)
            outcome = "ok"
        except ProviderError as error:
            outcome = fallback_reason(error)
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()  # stops the provider and releases its upstream connection (also on GeneratorExit)
            self._observe(outcome, time.perf_counter() - began)
            if call is not None:
                self._end_call_span(call, outcome)
        self._finish()

    def _call_span(self, provider: LLMProvider) -> ModelCallSpan:
        return ModelCallSpan.start(
            provider=str(getattr(provider, "name", "") or self.config.name),
            model=self.request.model,
            max_tokens=self.request.max_tokens,
            extra={"portal.llm.provider": self.config.name, "portal.llm.attempt": len(self.record.fallbacks) + 1},
        )

    @staticmethod
    def _steps(events: Iterator[Any], call: ModelCallSpan) -> Iterator[Any]:
        """The provider's events, each produced with the call's span current (the SDK's spans nest under it)."""
        while True:
            with call.active():
                event = next(events, _END)
            if event is _END:
                return
            yield event

    @staticmethod
    def _end_call_span(call: ModelCallSpan, outcome: str) -> None:
        if outcome == "cancelled":
            call.span.set_attribute("portal.llm.cancelled", True)
        elif outcome != "ok":
            call.failed(outcome, reason=outcome)
        call.end()

    def _texts(self, events: Iterator[Any], began: float, call: ModelCallSpan) -> Iterator[str]:
        for event in events:
            if isinstance(event, TextDelta) and event.text:
                if not self.started:
                    self.started = True
                    self.record.provider, self.record.model = self.config.name, self.request.model
                    metrics.llm_time_to_first_token_seconds.labels(self.config.name).observe(
                        time.perf_counter() - began
                    )
                self.text_chars += len(event.text)
                yield event.text
            elif isinstance(event, Completion):
                self.completion = event
                call.completed(
                    model=event.model or self.request.model,
                    input_tokens=event.input_tokens,
                    output_tokens=event.output_tokens,
                    finish_reason=event.stop_reason,
                )

    def _finish(self) -> None:
        self.succeeded = True
        self.record.provider = self.config.name
        if self.completion is None:
            return
        self.record.model = self.completion.model or self.request.model
        self.record.input_tokens = self.completion.input_tokens
        self.record.output_tokens = self.completion.output_tokens
        tenant = metrics.tenant_label(self.tenant_schema)
        metrics.llm_tokens_total.labels(self.config.name, "input", tenant).inc(self.completion.input_tokens)
        metrics.llm_tokens_total.labels(self.config.name, "output", tenant).inc(self.completion.output_tokens)

    def _observe(self, outcome: str, seconds: float) -> None:
        metrics.llm_calls_total.labels(self.config.name, outcome).inc()
        metrics.llm_call_seconds.labels(self.config.name, outcome).observe(seconds)

    def tokens_used(self) -> int:
        """Real usage when the provider reported it; an estimate when the stream broke off or was closed."""
        if self.completion is not None:
            return self.completion.input_tokens + self.completion.output_tokens
        if not self.started:
            return 0  # refused before generating: an error reply costs no tokens
        return estimated_input_tokens(self.request) + self.text_chars // CHARS_PER_TOKEN + 1
