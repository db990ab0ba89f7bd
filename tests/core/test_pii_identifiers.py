"""Identifiers, hashes and timestamps survive PII redaction (issue: a Celery task id whose first group
was all digits was logged as "[PHONE]-e961-4c0e-...", and a hex trace id as "...[CARD]..."). The ids
are generated, not picked: hypothesis explores the shapes real systems produce."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.core.pii import pii_redact

uuids = st.uuids().map(str)
trace_ids = st.integers(min_value=1, max_value=2**128 - 1).map(lambda n: f"{n:032x}")
# A 16-hex id made only of digits can be any number, a card number too; real span ids have letters.
span_ids = st.integers(min_value=1, max_value=2**64 - 1).map(lambda n: f"{n:016x}").filter(lambda s: not s.isdigit())
hashes = st.binary(min_size=1, max_size=64).map(lambda data: hashlib.sha256(data).hexdigest())
# This century until 2039: epoch microseconds of 2040-2056 start like Mastercard's 2221-2720
# numbers, and those of the 1980s like Amex's 34 and 37.
moments = st.datetimes(min_value=datetime(2001, 9, 10), max_value=datetime(2039, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
timestamps = st.one_of(
    moments.map(lambda d: d.isoformat()),
    moments.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]),  # the log formatter's asctime
    moments.map(lambda d: str(int(d.timestamp()))),  # epoch seconds
    moments.map(lambda d: str(int(d.timestamp() * 1000))),  # epoch milliseconds
    moments.map(lambda d: str(int((d - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)))),
)
identifiers = st.one_of(uuids, trace_ids, span_ids, hashes, timestamps)
contexts = st.sampled_from(["{}", "task {} failed", "id={}", '{{"task_id": "{}"}}', "trace {}, span {}"])


@settings(max_examples=600, deadline=None)
@given(identifier=identifiers, context=contexts)
def test_generated_identifiers_hashes_and_timestamps_survive_redaction(identifier, context):
    text = context.format(identifier, identifier)

    assert pii_redact(text).text == text


def test_a_uuid_whose_first_group_is_a_valid_phone_number_survives():
    # The shape that broke log correlation: all-digit first group, a valid German number on its own.
    task_id = str(uuid.UUID("03012345-e961-4c0e-8d2a-1f7e3b9c0a55"))
    assert pii_redact(f"task {task_id} failed").text == f"task {task_id} failed"
    assert pii_redact("call 030 12345 now").text == "call [PHONE] now"  # the same digits, written as a number
