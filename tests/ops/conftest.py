"""Fixtures for the operations tests: captured log output, captured spans, a real broker."""

from __future__ import annotations

import copy
import io
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config.celery_app import app as celery_app


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """What the configured console handler writes (JSON, with its filters), into a buffer."""
    buffer = io.StringIO()
    config: dict[str, Any] = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["formatter"] = "json"
    config["handlers"]["console"]["stream"] = buffer
    logging.config.dictConfig(config)
    try:
        yield buffer
    finally:
        logging.config.dictConfig(settings.LOGGING)


@pytest.fixture(scope="module")
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """Spans finished by this process, captured in memory for the module's tests.

    The tracer provider is process-wide and installed once at start-up (apps.core.apps); the
    exporter is shut down afterwards so later tests do not keep filling it.
    """
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "tracing_configure() must install the SDK provider"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    span_exporter.clear()
    return span_exporter


@pytest.fixture
def broker_mode() -> Iterator[None]:
    """This test process publishes to the real broker instead of running tasks in-process."""
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True
