"""Canonical content and hashes of audit events.

hash = sha256(prev_hash + canonical JSON of the event's own fields). Canonical JSON: sorted keys,
no whitespace, UTF-8, timestamps as UTC ISO 8601 with microseconds, and details normalised to what
PostgreSQL's jsonb gives back (integral floats become integers, NUL characters dropped), so a hash
computed before the insert equals the one recomputed from the stored row.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from .models import AuditEvent

CHAINED_FIELDS = (
    "sequence",
    "created_at",
    "actor_id",
    "actor_label",
    "tenant_schema",
    "action",
    "outcome",
    "target_type",
    "target_id",
    "target_label",
    "ip",
    "user_agent",
    "details",
)


def json_normalised(value: Any) -> Any:
    """The value as it will read back from a jsonb column."""
    plain = json.loads(json.dumps(value, cls=DjangoJSONEncoder, allow_nan=False))
    return _normalise(plain)


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key).replace("\x00", ""): _normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def timestamp_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_content(event: AuditEvent) -> dict[str, Any]:
    content = {name: getattr(event, name) for name in CHAINED_FIELDS}
    content["created_at"] = timestamp_text(event.created_at)
    content["details"] = _normalise(event.details)
    return content


def canonical_json(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(event: AuditEvent) -> str:
    payload = event.prev_hash + canonical_json(event_content(event))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def archive_line(event: AuditEvent) -> str:
    """One JSONL line of an archive: the chained content plus both hashes, so the file verifies alone."""
    return canonical_json({**event_content(event), "prev_hash": event.prev_hash, "hash": event.hash})


def archive_problem(data: bytes) -> tuple[str, dict[str, Any]]:
    """Verify an archive file on its own: every line's hash, and each line linking to the one before.

    Returns (problem or "", summary with first/last sequence and last hash).
    """
    previous: dict[str, Any] | None = None
    summary: dict[str, Any] = {"lines": 0}
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        row = json.loads(line)
        stored_hash, prev_hash = row.pop("hash"), row.pop("prev_hash")
        if hashlib.sha256((prev_hash + canonical_json(row)).encode("utf-8")).hexdigest() != stored_hash:
            return f"line {number} (event #{row['sequence']}): content does not match its hash", summary
        if previous is not None and (row["sequence"] != previous["sequence"] + 1 or prev_hash != previous["hash"]):
            return f"line {number} (event #{row['sequence']}): does not link to the line before", summary
        previous = {**row, "hash": stored_hash}
        summary.update(lines=number, last_sequence=row["sequence"], last_hash=stored_hash)
        summary.setdefault("first_sequence", row["sequence"])
    return "", summary
