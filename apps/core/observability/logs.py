"""Logging filters and the JSON formatter named in settings.LOGGING (module named `logs` so it
never shadows the standard library's `logging`).

Attach both filters to every handler (handler filters see records propagated from any logger;
logger filters do not). The redaction filter rewrites the record in place, so every later handler
gets the redacted version too.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from apps.core.pii import pii_redact

from .context import current_request_id
from .redaction import redact_secrets, redact_structure

# Attributes every LogRecord has; anything else on a record came from `extra=` and is redacted.
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_CONTEXT_ATTRIBUTES = frozenset({"request_id", "tenant", "trace_id", "span_id", "environment"})
_ALL_PII_KINDS = ("email", "phone", "card", "iban", "national_id")
# An OpenTelemetry trace or span id we generated, passed as an extra (`answer_trace_id`): no
# person's data can be in it, and the phone-number matcher spent half a millisecond on each one.
_GENERATED_ID = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")
# Short texts recur (an outcome, a tenant, a refusal's reason): their redaction is remembered.
_MEMO_MAX_CHARS = 200


class ContextFilter(logging.Filter):
    """Adds request_id, tenant, trace_id, span_id and environment to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        record.tenant = _current_tenant()
        record.trace_id, record.span_id = _current_trace_ids()
        record.environment = _environment()
        return True


def _current_tenant() -> str:
    try:
        from django.db import connection

        schema = getattr(connection, "schema_name", "") or ""
    except Exception:  # noqa: BLE001 - logging must never fail because Django is not ready
        return ""
    return "" if schema == "public" else str(schema)


def _current_trace_ids() -> tuple[str, str]:
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return "", ""
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def _environment() -> str:
    try:
        from django.conf import settings

        return str(settings.PORTAL_ENV)
    except Exception:  # noqa: BLE001 - settings not configured (a bare script)
        return ""


class AbandonedSpanContextFilter(logging.Filter):
    """Drops OpenTelemetry's "Failed to detach context" when the context was abandoned.

    When a client disconnects mid-request, Django cancels the request's task before the tracing
    middleware's process_response runs; its span activation is finalised later, elsewhere, and
    detaching then fails because the token belongs to a context that is being discarded anyway
    (opentelemetry-python-contrib#3848). It was one ERROR with a traceback per cancelled request:
    noise that hides real errors. Any other detach failure is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.getMessage() != "Failed to detach context":
            return True
        error = record.exc_info[1]
        return not (isinstance(error, ValueError) and "was created in a different Context" in str(error))


class RedactionFilter(logging.Filter):
    """Removes secrets, personal data and long text from the message, arguments, extras and tracebacks."""

    _busy = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(self._busy, "active", False):
            return True  # the PII redactor itself logged: do not recurse
        self._busy.active = True
        try:
            _redact_record(record)
        except Exception:  # noqa: BLE001 - never fail the caller, never pass on what was not redacted
            _withhold(record)
        finally:
            self._busy.active = False
        return True


def redact_text(text: str, *, keep_tail: bool = False) -> str:
    redactor, limit = _pii_redactor(), _max_chars()
    if len(text) <= _MEMO_MAX_CHARS:
        return _redact_short(text, keep_tail=keep_tail, redactor=redactor, limit=limit)
    return _redact(text, keep_tail=keep_tail, redactor=redactor, limit=limit)


@lru_cache(maxsize=4096)
def _redact_short(text: str, *, keep_tail: bool, redactor: Callable[..., Any], limit: int) -> str:
    return _redact(text, keep_tail=keep_tail, redactor=redactor, limit=limit)


def _redact(text: str, *, keep_tail: bool, redactor: Callable[..., Any], limit: int) -> str:
    text = redact_secrets(text)
    result = redactor(text, kinds=_ALL_PII_KINDS)
    text = getattr(result, "text", result)
    if len(text) > limit:
        cut = len(text) - limit
        # A traceback's last lines (the exception itself) matter most; a message's first ones do.
        text = f"[truncated {cut} chars]...{text[cut:]}" if keep_tail else f"{text[:limit]}...[truncated {cut} chars]"
    return text


def _withhold(record: logging.LogRecord) -> None:
    record.msg, record.args = "[log record withheld: redaction failed]", None
    record.exc_info, record.exc_text, record.stack_info = None, None, None
    for name in [name for name in record.__dict__ if name not in _STANDARD_ATTRIBUTES]:
        del record.__dict__[name]


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string must not leak its raw arguments
        message = f"{record.msg!s} [unformattable arguments]"
    record.msg, record.args = redact_text(message), None
    if record.exc_info:
        # Render the traceback now (exception messages included), redact it, and drop the live
        # exception so no handler or formatter renders the unredacted one again.
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        record.exc_info = None
    if record.exc_text:
        record.exc_text = redact_text(record.exc_text, keep_tail=True)
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info, keep_tail=True)
    for name, value in list(record.__dict__.items()):
        if name in _STANDARD_ATTRIBUTES or name in _CONTEXT_ATTRIBUTES or _is_generated_id(name, value):
            continue
        record.__dict__[name] = redact_structure({name: value}, redact_text=redact_text)[name]


def _is_generated_id(name: str, value: object) -> bool:
    return name.endswith(("trace_id", "span_id")) and isinstance(value, str) and bool(_GENERATED_ID.fullmatch(value))


@lru_cache(maxsize=4)
def _load_redactor(dotted_path: str) -> Callable[..., Any]:
    from django.utils.module_loading import import_string

    return import_string(dotted_path)


def _pii_redactor() -> Callable[..., Any]:
    try:
        from django.conf import settings

        dotted_path = settings.LOG_PII_REDACTOR
    except Exception:  # noqa: BLE001 - settings not configured: the built-in patterns still apply
        return pii_redact
    try:
        return _load_redactor(dotted_path)
    except ImportError:
        # Named but not importable (yet): fall back rather than lose the log line.
        return pii_redact


def _max_chars() -> int:
    try:
        from django.conf import settings

        return int(settings.LOG_MAX_MESSAGE_CHARS)
    except Exception:  # noqa: BLE001
        return 8000


class JsonFormatter(BaseJsonFormatter):
    """One JSON object per line: time, level, logger, message, context fields, extras, exc_info."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)
