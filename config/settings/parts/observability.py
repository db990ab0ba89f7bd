"""Logging, metrics and tracing (docs/observability.md)."""

from __future__ import annotations

from typing import Any

from ..environment import env, secret

# --- Logging ------------------------------------------------------------------------------------
# JSON lines (or plain text for humans: LOG_FORMAT=plain) with request id, tenant and trace id.
# Every handler redacts secrets, personal data and document text (apps/core/observability/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
# pii_redact(text, *, kinds) -> object with .text. The default, apps.core.pii, is the portal's one
# PII recogniser; it is also the fallback when a named replacement cannot be imported.
LOG_PII_REDACTOR = env.str("LOG_PII_REDACTOR", default="apps.core.pii.pii_redact")
LOG_MAX_MESSAGE_CHARS = env.int("LOG_MAX_MESSAGE_CHARS", default=8000)
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "apps.core.observability.logs.RedactionFilter"},
        "context": {"()": "apps.core.observability.logs.ContextFilter"},
        "abandoned_span_context": {"()": "apps.core.observability.logs.AbandonedSpanContextFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(tenant)s] %(message)s"},
        "json": {"()": "apps.core.observability.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact", "context"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "neo4j": {"level": "WARNING"},
        "opentelemetry.context": {"filters": ["abandoned_span_context"]},
    },
}

# --- Metrics and tracing (docs/observability.md) -----------------------------------------------
# /metrics needs this bearer token or a client address in METRICS_ALLOWED_IPS (CIDRs); else 403.
METRICS_BEARER_TOKEN = secret("METRICS_BEARER_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Per-tenant label values on tenant-aware series; keep off when tenants are many (cardinality).
METRICS_TENANT_LABELS = env.bool("METRICS_TENANT_LABELS", default=False)
# Celery workers serve their own /metrics here (0 = off); set PROMETHEUS_MULTIPROC_DIR for prefork.
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=0)
METRICS_WORKER_ADDRESS = env.str("METRICS_WORKER_ADDRESS", default="0.0.0.0")  # noqa: S104 - container port
OTEL_ENABLED = env.bool("OTEL_ENABLED", default=True)
OTEL_EXPORTER = env.str("OTEL_EXPORTER", default="none")  # none | console | otlp (OTEL_EXPORTER_OTLP_* vars)
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="knowledge-portal")
OTEL_SAMPLE_RATIO = env.float("OTEL_SAMPLE_RATIO", default=1.0)
# Spans of each database and Redis call, under the request's or answer's. They only matter where
# spans are exported; unexported, their wrappers were about 5% of a web process's CPU under
# streaming load (docs/portal.md). Trace ids in logs and the query log do not depend on them.
OTEL_INSTRUMENT_CLIENTS = env.bool("OTEL_INSTRUMENT_CLIENTS", default=OTEL_EXPORTER != "none")
