"""Audit retention: archive the expired start of the chain to a file, then purge it, chained.

Only this module deletes audit rows. It verifies the chain first (evidence of tampering is never
purged), writes the expired segment as JSON lines to the archive storage, and then, in one
transaction, lifts the trigger's guard for that transaction only (SET LOCAL), deletes the segment
and appends an "audit.archive" event carrying the archive's sha256 and the last purged hash, from
which verification continues.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .chain import archive_line
from .models import AuditEvent
from .selectors import ARCHIVE_ACTION, audit_chain_verify, audit_expired_segment
from .services import audit_event_record

RETENTION_ACTOR = "system:retention"


class AuditChainBroken(Exception):
    """Retention refuses to purge a chain that does not verify: it may be evidence."""


@dataclass(frozen=True)
class AuditArchiveResult:
    first_sequence: int
    last_sequence: int
    count: int
    archive_name: str = ""
    archive_sha256: str = ""
    dry_run: bool = False


def audit_archive_storage() -> Storage:
    config = settings.AUDIT_ARCHIVE_STORAGE
    return import_string(config["BACKEND"])(**config.get("OPTIONS", {}))


def audit_events_archive_expired(
    *, older_than: datetime, dry_run: bool = False, storage: Storage | None = None
) -> AuditArchiveResult | None:
    """Archive and purge the events created before `older_than` in the current schema, or None."""
    verdict = audit_chain_verify()
    if not verdict.ok:
        raise AuditChainBroken(verdict.describe())
    segment = audit_expired_segment(older_than=older_than)
    if segment is None:
        return None
    first, last = segment
    if dry_run:
        return AuditArchiveResult(first_sequence=first, last_sequence=last, count=last - first + 1, dry_run=True)
    events = list(AuditEvent.objects.filter(sequence__range=segment).order_by("sequence"))
    payload = "".join(archive_line(event) + "\n" for event in events).encode("utf-8")
    digest = hashlib.sha256(payload).hexdigest()
    schema = str(getattr(connection, "schema_name", ""))
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    name = (storage or audit_archive_storage()).save(
        f"{schema}/{schema}-audit-{first:012d}-{last:012d}-{stamp}.jsonl", ContentFile(payload)
    )
    _purge_and_record(first=first, last=last, last_hash=events[-1].hash, name=name, digest=digest)
    return AuditArchiveResult(
        first_sequence=first, last_sequence=last, count=len(events), archive_name=name, archive_sha256=digest
    )


@transaction.atomic
def _purge_and_record(*, first: int, last: int, last_hash: str, name: str, digest: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL portal.audit_retention = 'on'")
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence BETWEEN %s AND %s", [first, last])
        deleted = cursor.rowcount
        cursor.execute("SET LOCAL portal.audit_retention = 'off'")
    if deleted != last - first + 1:
        raise AuditChainBroken(f"expected to purge {last - first + 1} events, found {deleted}; nothing purged")
    audit_event_record(
        action=ARCHIVE_ACTION,
        actor=RETENTION_ACTOR,
        target=name,
        details={
            "first_sequence": first,
            "last_sequence": last,
            "count": deleted,
            "archive_name": name,
            "archive_sha256": digest,
            "last_purged_hash": last_hash,
        },
    )
