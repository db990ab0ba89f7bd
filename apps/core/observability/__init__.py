"""Operations plumbing shared by every process: structured logs with redaction, request ids,
OpenTelemetry tracing, and the protected /metrics exposition (docs/observability.md).

Nothing here imports a higher layer; the PII redactor of the answers app is reached through a
dotted path in settings (LOG_PII_REDACTOR), like any other backend.
"""
