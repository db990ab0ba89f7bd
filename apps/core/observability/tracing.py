"""OpenTelemetry tracing configured from settings, once per process.

The SDK tracer provider is installed even when OTEL_EXPORTER is "none", so logs and query logs
still get real trace ids; but until a span processor is added (an exporter, or a test's in-memory
one) spans are not recorded: building spans for every SQL statement and Redis command that nobody
receives took about a tenth of the web process's CPU per answer.

Django requests, PostgreSQL (psycopg), Redis, Celery and outgoing httpx requests (the remote
embedders) are traced by the upstream instrumentations; Celery's carries the trace context in task
headers, so a task's spans join the trace of the request that queued it. Each model call gets a
GenAI span (genai.py), with the Anthropic SDK's own client span under it. Our own code opens spans
with `span()`: retrieval legs, Neo4j calls, orchestrator steps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, Sampler, SamplingResult, TraceIdRatioBased

from apps.core.errors import AdapterConfigurationError

logger = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

TRACER_NAME = "portal"
# Probes and scrapes are polled every few seconds: tracing them would drown the real traffic.
UNTRACED_URLS = "health/live,health/ready,metrics"

_configured_lock = threading.Lock()
_configured = False


def tracing_configure() -> None:
    """Install the tracer provider and the instrumentations (idempotent; the first call wins)."""
    global _configured
    with _configured_lock:
        if _configured or not settings.OTEL_ENABLED:
            return
        _configured = True
    provider = ExportAwareTracerProvider(
        resource=Resource.create(
            {
                "service.name": settings.OTEL_SERVICE_NAME,
                "deployment.environment": settings.PORTAL_ENV,
            }
        ),
        sampler=RecordedWhenExported(ParentBased(TraceIdRatioBased(settings.OTEL_SAMPLE_RATIO))),
    )
    exporter = span_exporter(settings.OTEL_EXPORTER)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _instrument_libraries()


class RecordedWhenExported(Sampler):
    """`inner`'s decision once spans have somewhere to go; until then not recorded (ids are kept)."""

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner
        self.exporting = False

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        if not self.exporting:
            return SamplingResult(Decision.DROP)
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        return f"RecordedWhenExported{{{self.inner.get_description()}}}"


class ExportAwareTracerProvider(TracerProvider):
    """Tells its RecordedWhenExported sampler when the first span processor arrives."""

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        if isinstance(self.sampler, RecordedWhenExported):
            self.sampler.exporting = True


def span_exporter(name: str) -> SpanExporter | None:
    if name == "none":
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Endpoint, headers and timeout come from the standard OTEL_EXPORTER_OTLP_* variables.
        return OTLPSpanExporter()
    raise AdapterConfigurationError(f"settings.OTEL_EXPORTER={name!r}: use none, console or otlp")


def _instrument_libraries() -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    DjangoInstrumentor().instrument(
        excluded_urls=UNTRACED_URLS, middleware_position=_django_middleware_position(), request_hook=_tag_request
    )
    if settings.OTEL_INSTRUMENT_CLIENTS:
        # No SQL commenter: comments would defeat prepared statements and pollute pg_stat_statements.
        PsycopgInstrumentor().instrument(enable_commenter=False)
        RedisInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()  # remote embedders; the Anthropic SDK traces its own calls


def _django_middleware_position() -> int:
    """Just after the probe middleware: probes and scrapes arrive with any Host header, and the
    instrumentation's host lookup would refuse them before they are answered."""
    probes = "apps.health.middleware.HealthProbeMiddleware"
    middleware = list(settings.MIDDLEWARE)
    return middleware.index(probes) + 1 if probes in middleware else 0


def _tag_request(span: trace.Span, request: Any) -> None:
    request_id = getattr(request, "request_id", "")
    if request_id and span.is_recording():
        span.set_attribute("portal.request_id", request_id)


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


@contextmanager
def span(name: str, **attributes: Any) -> Iterator[trace.Span]:
    """A child span of the current one. Attribute values must be str, bool, int, float or lists of them.

    Never put document text, prompts or personal data into attributes: exporters ship them off-site.
    """
    clean = {key: value for key, value in attributes.items() if value is not None}
    with tracer().start_as_current_span(name, attributes=clean) as current:
        yield current


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator form of `span()` for a whole function."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(name):
                return function(*args, **kwargs)

        return wrapper

    return decorate


def span_annotate(**attributes: Any) -> None:
    """Add attributes to the current span (no-op outside a recording span)."""
    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes({key: value for key, value in attributes.items() if value is not None})


def current_trace_id() -> str:
    """The hex trace id of the current span, or "" outside any trace (for query logs and errors)."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""
