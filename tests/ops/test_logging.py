"""Structured logs: request ids, tenant and trace ids on every line, and nothing secret in any of them."""

from __future__ import annotations

import contextvars
import json
import logging

import pytest
from django.test import Client, override_settings
from opentelemetry import context as otel_context

from apps.core.observability.context import REQUEST_ID_HEADER
from apps.integrations.llm.base import ProviderServerError

from .secrets import IN_CONTEXT, SECRET_VALUES, SECRETS_TEXT, leaked

logger = logging.getLogger("tests.ops.logging")


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_every_request_gets_an_id_and_a_well_formed_one_is_kept():
    client = Client()
    generated = client.get("/health/live")[REQUEST_ID_HEADER]
    assert len(generated) == 32
    assert client.get("/health/live")[REQUEST_ID_HEADER] != generated
    assert client.get("/health/live", HTTP_X_REQUEST_ID="lb-7f3a.42")[REQUEST_ID_HEADER] == "lb-7f3a.42"
    forged = client.get("/health/live", HTTP_X_REQUEST_ID="x" * 200)[REQUEST_ID_HEADER]
    assert forged != "x" * 200
    assert len(forged) == 32


def test_message_arguments_nested_structures_and_extras_are_redacted(captured_logs):
    nested = {
        "headers": {"Authorization": f"Bearer {SECRET_VALUES['bearer']}", "x-api-key": SECRET_VALUES["portal_api_key"]},
        "attempts": [{"password": SECRET_VALUES["password"]}, ("token", SECRET_VALUES["jwt"])],
        "note": SECRETS_TEXT,
    }
    logger.warning("calling upstream with %s and %r", nested, [SECRETS_TEXT])
    logger.warning("structured", extra={"payload": nested, "text": "full document text " * 50})
    output = captured_logs.getvalue()
    assert leaked(output) == []
    lines = records(output)
    assert len(lines) == 2
    assert "[REDACTED" in lines[0]["message"]
    assert lines[1]["payload"]["headers"]["x-api-key"] == "[REDACTED]"
    assert lines[1]["text"].startswith("[REDACTED:content")
    # Token counts and similar are not secrets and stay readable.
    logger.warning("usage input_tokens=%d output_tokens=%d", 120, 45)
    assert records(captured_logs.getvalue())[-1]["message"] == "usage input_tokens=120 output_tokens=45"


def test_exception_messages_and_tracebacks_are_redacted(captured_logs):
    try:
        raise ValueError(f"could not connect: {SECRETS_TEXT}")
    except ValueError:
        logger.exception("job failed for %s", SECRET_VALUES["email"])
    output = captured_logs.getvalue()
    assert leaked(output) == []
    (line,) = records(output)
    assert "ValueError: could not connect" in line["exc_info"]
    assert "Traceback" in line["exc_info"]


def test_a_provider_error_is_logged_without_its_key(captured_logs):
    error = ProviderServerError(
        f"anthropic returned 500: {{'error': 'bad x-api-key {SECRET_VALUES['anthropic_key']}'}} {SECRETS_TEXT}",
        provider="anthropic",
    )
    logging.getLogger("apps.answers.router").warning("provider %s failed: %s", "anthropic", error, exc_info=error)
    assert leaked(captured_logs.getvalue()) == []
    assert "ProviderServerError" in captured_logs.getvalue()


@override_settings(ROOT_URLCONF="tests.ops.urls")
def test_a_failing_request_logs_redacted_with_request_id_tenant_and_trace(captured_logs, tenant_alpha):
    client = Client(raise_request_exception=False)
    query = f"?api_key={SECRET_VALUES['openai_key']}&email={SECRET_VALUES['email']}"
    response = client.get(f"/ops/fail/{query}", HTTP_HOST="alpha.localhost", HTTP_X_REQUEST_ID="req-ops-1")
    assert response.status_code == 500
    assert response[REQUEST_ID_HEADER] == "req-ops-1"
    output = captured_logs.getvalue()
    assert leaked(output) == []
    (line,) = [record for record in records(output) if record["logger"] == "django.request"]
    assert line["level"] == "ERROR"
    assert "RuntimeError: upstream call failed" in line["exc_info"]
    assert line["request_id"] == "req-ops-1"
    assert line["tenant"] == "alpha"
    assert len(line["trace_id"]) == 32
    assert line["environment"] == "test"


@pytest.mark.parametrize("name", sorted(IN_CONTEXT))
def test_each_secret_kind_on_its_own(captured_logs, name):
    logger.error("value: %s", IN_CONTEXT[name])
    assert leaked(captured_logs.getvalue()) == []


@pytest.mark.parametrize("redactor", ["apps.core.pii.pii_redact", "apps.not_installed.pii.pii_redact"])
def test_the_built_in_redactor_covers_personal_data_when_the_configured_one_is_missing(captured_logs, redactor):
    with override_settings(LOG_PII_REDACTOR=redactor):
        logger.error("%s", SECRETS_TEXT)
    assert leaked(captured_logs.getvalue()) == []


def test_generated_trace_ids_pass_and_anything_else_under_their_names_is_redacted(captured_logs):
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    logger.warning("answered", extra={"answer_trace_id": trace_id, "other_trace_id": SECRET_VALUES["email"]})
    line = records(captured_logs.getvalue())[0]
    assert line["answer_trace_id"] == trace_id
    assert SECRET_VALUES["email"] not in line["other_trace_id"]


def test_a_remembered_short_text_is_redacted_again_by_a_newly_configured_redactor(captured_logs):
    logger.error("%s", SECRET_VALUES["email"])  # remembered under the built-in redactor
    with override_settings(LOG_PII_REDACTOR="tests.ops.test_logging.explode"):
        logger.error("%s", SECRET_VALUES["email"])
    second = records(captured_logs.getvalue())[1]
    assert second["message"] == "[log record withheld: redaction failed]"


def test_a_portal_api_key_keeps_its_public_prefix(captured_logs):
    logger.error("key %s rejected", SECRET_VALUES["portal_api_key"])
    assert records(captured_logs.getvalue())[0]["message"] == "key kp_0a1b2c3d4e5f_[REDACTED] rejected"


def explode(text: str, **_kinds: object) -> str:
    raise RuntimeError(f"redactor broke on {text}")


@override_settings(LOG_PII_REDACTOR="tests.ops.test_logging.explode")
def test_a_failing_redactor_withholds_the_record_instead_of_leaking_or_raising(captured_logs):
    logger.error("login with password=%s", SECRET_VALUES["password"], extra={"token": SECRET_VALUES["jwt"]})
    output = captured_logs.getvalue()
    assert leaked(output) == []
    assert records(output)[0]["message"] == "[log record withheld: redaction failed]"


def deep(levels: int) -> None:
    if levels == 0:
        raise ValueError("the part that matters")
    deep(levels - 1)


@override_settings(LOG_MAX_MESSAGE_CHARS=300)
def test_a_long_traceback_keeps_its_exception_line(captured_logs):
    try:
        deep(3)
    except ValueError:
        logger.exception("failed")
    (line,) = records(captured_logs.getvalue())
    assert line["exc_info"].startswith("[truncated ")
    assert line["exc_info"].endswith("ValueError: the part that matters")


def test_detaching_an_abandoned_span_context_is_not_an_error_but_other_detach_failures_are(captured_logs):
    """A cancelled request's span activation is finalised in another context (client disconnect)."""
    token = otel_context.attach(otel_context.set_value("probe", 1))
    contextvars.Context().run(otel_context.detach, token)  # the token is from another context
    assert "Failed to detach context" not in captured_logs.getvalue()

    otel_context.detach(token)  # now for real, in its own context
    otel_context.detach(token)  # and once more: a genuine misuse, still reported
    (line,) = records(captured_logs.getvalue())
    assert line["message"] == "Failed to detach context"
    assert "RuntimeError" in line["exc_info"]


def test_identifiers_in_extras_survive_redaction(captured_logs):
    # The digits in this trace id pass the Luhn check; it once came out as "762f47c9cae5e[CARD]f0e6".
    trace_id = "762f47c9cae5e642491144494684f0e6"
    logger.warning("question timed_out", extra={"answer_trace_id": trace_id})
    assert records(captured_logs.getvalue())[0]["answer_trace_id"] == trace_id
