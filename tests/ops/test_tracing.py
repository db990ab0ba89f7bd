"""Tracing: one request or one retrieval is one trace, with a span per leg and per external call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind

from apps.accounts.models import User
from apps.core.errors import AdapterConfigurationError
from apps.core.observability.context import REQUEST_ID_HEADER
from apps.core.observability.tracing import (
    ExportAwareTracerProvider,
    RecordedWhenExported,
    span_exporter,
    tracer,
)
from apps.ingestion.services import UploadedFile, document_upload
from apps.retrieval.search import retrieve
from apps.tenants.context import in_tenant
from apps.tenants.models import Tenant
from config.settings.environment import BASE_DIR
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def children(spans: tuple[ReadableSpan, ...], parent: ReadableSpan) -> list[ReadableSpan]:
    return [span for span in spans if span.parent is not None and span.parent.span_id == parent.context.span_id]


@pytest.fixture(scope="module")
def tenant(django_db_setup, django_db_blocker) -> Iterator[Tenant]:
    with django_db_blocker.unblock(), committed_tenant("ops_trace") as committed:
        with in_tenant(committed.schema_name):
            text = b"# Refunds\n\nNorthwind refunds are paid within 30 days by Finance."
            document_upload(
                upload=UploadedFile(filename="refunds.md", data=text), uploaded_by=None, visible_to_tenant=True
            )
        yield committed


def test_a_retrieval_is_one_trace_with_a_span_per_leg_and_store_call(tenant, committed_db, spans):
    with in_tenant(tenant.schema_name):
        reader = User.objects.create_user(username=f"r-{uuid.uuid4().hex[:6]}", password="x" * 16)
        with tracer().start_as_current_span("test.request") as root:
            result = retrieve(user=reader, query="When are Northwind refunds paid?", k=5)
    assert result.chunks
    finished = spans.get_finished_spans()
    trace_id = root.get_span_context().trace_id
    (retrieval,) = by_name(finished, "retrieval.retrieve")
    assert retrieval.parent is not None
    assert retrieval.parent.span_id == root.get_span_context().span_id
    assert dict(retrieval.attributes or {})["retrieval.leg_status.graph"] == "ok"
    legs = {span.name: span for span in children(finished, retrieval)}
    assert {"retrieval.leg.dense", "retrieval.leg.keyword", "retrieval.leg.graph"} <= set(legs)
    assert all(span.context.trace_id == trace_id for span in finished if span.name.startswith("retrieval."))
    # External calls made inside a leg's thread are children of that leg's span.
    assert any(span.name == "neo4j.query" for span in children(finished, legs["retrieval.leg.graph"]))
    dense_sql = [
        s for s in children(finished, legs["retrieval.leg.dense"]) if s.attributes.get("db.system") == "postgresql"
    ]
    assert dense_sql
    candidates = dict(legs["retrieval.leg.dense"].attributes or {})["retrieval.candidates"]
    assert isinstance(candidates, int)
    assert candidates >= 1


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_a_request_is_a_server_span_with_its_queries_and_its_log_lines(tenant_alpha, spans, captured_logs):
    response = Client().get("/ops/count/", HTTP_HOST="alpha.localhost")
    assert response.status_code == 200
    finished = spans.get_finished_spans()
    (server,) = [span for span in finished if span.kind == SpanKind.SERVER]
    assert server.name == "GET ops/count/"
    assert server.attributes["portal.request_id"] == response[REQUEST_ID_HEADER]
    assert any(span.attributes.get("db.system") == "postgresql" for span in children(finished, server))
    (line,) = [json.loads(raw) for raw in captured_logs.getvalue().splitlines() if "counting users" in raw]
    assert line["trace_id"] == format(server.context.trace_id, "032x")
    assert line["request_id"] == response[REQUEST_ID_HEADER]


def test_probes_are_not_traced(spans):
    assert Client().get("/health/live").status_code == 200
    assert not [span for span in spans.get_finished_spans() if span.kind == SpanKind.SERVER]


def test_the_exporter_comes_from_settings():
    assert span_exporter("none") is None
    assert isinstance(span_exporter("console"), ConsoleSpanExporter)
    assert type(span_exporter("otlp")).__name__ == "OTLPSpanExporter"
    with pytest.raises(AdapterConfigurationError, match="none, console or otlp"):
        span_exporter("jaeger")


def test_one_answer_is_one_trace_with_a_span_per_step(tenant, committed_db, spans):
    from apps.answers.services import answer_question

    with in_tenant(tenant.schema_name):
        asker = User.objects.create_user(username=f"a-{uuid.uuid4().hex[:6]}", password="x" * 16)
        result = answer_question(user=asker, question="When are Northwind refunds paid?", use_cache=False)
    finished = spans.get_finished_spans()
    (root,) = by_name(finished, "answer.question")
    assert result.trace_id == format(root.context.trace_id, "032x")
    steps = [span for span in children(finished, root) if span.name.startswith("answer.")]
    assert len(steps) >= 3
    assert all(span.context.trace_id == root.context.trace_id for span in steps)
    # The retrieval runs inside its step: its legs hang under the same root.
    (retrieval,) = by_name(finished, "retrieval.retrieve")
    assert retrieval.context.trace_id == root.context.trace_id
    assert retrieval.parent.span_id in {span.context.span_id for span in steps}


def test_spans_are_recorded_only_once_something_receives_them():
    """With OTEL_EXPORTER=none nothing is built for SQL and Redis spans, yet trace ids stay real."""
    provider = ExportAwareTracerProvider(sampler=RecordedWhenExported(ParentBased(TraceIdRatioBased(1.0))))
    quiet_tracer = provider.get_tracer("test")

    with quiet_tracer.start_as_current_span("unexported") as unexported:
        pass
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    with quiet_tracer.start_as_current_span("exported") as exported:
        pass

    assert not isinstance(unexported, ReadableSpan)  # a NonRecordingSpan: no attributes, no events
    assert unexported.get_span_context().is_valid  # logs and query logs still carry its trace id
    assert isinstance(exported, ReadableSpan)
    assert exported.get_span_context().trace_flags.sampled


@pytest.mark.parametrize(("exporter", "instrumented"), [("none", "False"), ("otlp", "True"), ("console", "True")])
def test_database_and_redis_calls_get_spans_only_where_spans_are_exported(exporter, instrumented):
    """Read as `make run` and a deployment read it (the test settings turn client spans on)."""
    env = {**os.environ, "OTEL_EXPORTER": exporter, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    env.pop("OTEL_INSTRUMENT_CLIENTS", None)
    code = "from django.conf import settings; print(settings.OTEL_INSTRUMENT_CLIENTS)"
    read = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    )
    assert read.stdout.strip() == instrumented
