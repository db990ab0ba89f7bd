"""Purge what outlived the tenant's retention periods; audit data is archived to a file first."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from auditlog.models import LogEntry as ChangeLogEntry
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from apps.answers.models import Conversation, QueryLog
from apps.audit.retention import RETENTION_ACTOR, audit_archive_storage, audit_events_archive_expired
from apps.audit.services import AuditTarget, audit_event_record
from apps.feedback.models import Feedback
from apps.tenants.selectors import tenant_settings_get


@dataclass
class PurgeReport:
    schema_name: str
    dry_run: bool
    cutoffs: dict[str, str] = field(default_factory=dict)
    query_logs: int = 0
    conversations: int = 0
    feedback: int = 0
    change_log_entries: int = 0
    admin_log_entries: int = 0
    audit_events: int = 0
    archives: list[dict[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (
            self.query_logs
            + self.conversations
            + self.feedback
            + self.change_log_entries
            + self.admin_log_entries
            + self.audit_events
        )


def expired_data_purge(*, dry_run: bool = False, now: datetime | None = None) -> PurgeReport:
    """Apply the current tenant's retention days; call inside the tenant (apps.tenants.context)."""
    schema = str(connection.schema_name)  # type: ignore[attr-defined]
    policy = tenant_settings_get(schema_name=schema)
    now = now or timezone.now()
    query_cutoff = now - timedelta(days=policy.query_retention_days)
    feedback_cutoff = now - timedelta(days=policy.feedback_retention_days)
    audit_cutoff = now - timedelta(days=policy.audit_retention_days)
    report = PurgeReport(
        schema_name=schema,
        dry_run=dry_run,
        cutoffs={
            "query": query_cutoff.isoformat(),
            "feedback": feedback_cutoff.isoformat(),
            "audit": audit_cutoff.isoformat(),
        },
    )
    expired_queries = QueryLog.objects.filter(created_at__lt=query_cutoff)
    # A conversation goes with its last question (updated_at is when that was asked).
    expired_conversations = Conversation.objects.filter(updated_at__lt=query_cutoff)
    expired_feedback = Feedback.objects.filter(created_at__lt=feedback_cutoff)
    expired_changes = ChangeLogEntry.objects.filter(timestamp__lt=audit_cutoff)
    expired_admin_log = AdminLogEntry.objects.filter(action_time__lt=audit_cutoff)
    if dry_run:
        report.query_logs, report.feedback = expired_queries.count(), expired_feedback.count()
        report.conversations = expired_conversations.count()
        report.change_log_entries, report.admin_log_entries = expired_changes.count(), expired_admin_log.count()
        segment = audit_events_archive_expired(older_than=audit_cutoff, dry_run=True)
        report.audit_events = segment.count if segment else 0
        return report
    with transaction.atomic():
        report.query_logs = expired_queries.delete()[1].get(QueryLog._meta.label, 0)
        report.conversations = expired_conversations.delete()[1].get(Conversation._meta.label, 0)
        report.feedback = expired_feedback.delete()[1].get(Feedback._meta.label, 0)
        report.change_log_entries = _change_log_archive_and_purge(expired_changes, report)
        # Admin log entries are mirrored one to one by chained audit events, which are archived.
        report.admin_log_entries = expired_admin_log.delete()[0]
    archived = audit_events_archive_expired(older_than=audit_cutoff)
    if archived is not None:
        report.audit_events = archived.count
        report.archives.append(
            {"kind": "audit_events", "name": archived.archive_name, "sha256": archived.archive_sha256}
        )
    _purge_record(report)
    return report


def _change_log_archive_and_purge(entries, report: PurgeReport) -> int:
    """django-auditlog entries are not chained: archive them and chain the archive's hash instead."""
    rows = list(entries.order_by("pk").values())
    if not rows:
        return 0
    payload = "".join(json.dumps(row, cls=DjangoJSONEncoder, sort_keys=True) + "\n" for row in rows).encode()
    digest = hashlib.sha256(payload).hexdigest()
    schema = report.schema_name
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    name = audit_archive_storage().save(
        f"{schema}/{schema}-changelog-{rows[0]['id']}-{rows[-1]['id']}-{stamp}.jsonl", ContentFile(payload)
    )
    deleted = ChangeLogEntry.objects.filter(pk__in=[row["id"] for row in rows]).delete()[0]
    audit_event_record(
        action="auditlog.archive",
        actor=RETENTION_ACTOR,
        target=AuditTarget(type="auditlog.logentry", label=name),
        details={"count": deleted, "archive_name": name, "archive_sha256": digest},
    )
    report.archives.append({"kind": "change_log", "name": name, "sha256": digest})
    return deleted


def _purge_record(report: PurgeReport) -> None:
    counts = asdict(report)
    for key in ("schema_name", "dry_run", "archives"):
        counts.pop(key)
    audit_event_record(action="retention.purge", actor=RETENTION_ACTOR, target="expired data", details=counts)
