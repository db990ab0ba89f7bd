"""Retention purges only what expired, archives audit data first, and the chain still verifies."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from auditlog.models import LogEntry as ChangeLogEntry
from django.contrib.admin.models import CHANGE
from django.contrib.admin.models import LogEntry as AdminLogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from apps.accounts.models import User
from apps.answers.models import QueryLog
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_event_record
from apps.compliance.retention import expired_data_purge
from apps.feedback.models import Feedback
from apps.tenants.selectors import tenant_settings_get
from tests.audit.helpers import make_user
from tests.feedback.factories import query_log

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive_dir(tmp_path):
    with override_settings(
        AUDIT_ARCHIVE_STORAGE={
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        }
    ):
        yield tmp_path


def _aged(model, row, days: int, field: str = "created_at"):
    model.objects.filter(pk=row.pk).update(**{field: timezone.now() - timedelta(days=days)})
    return row


@pytest.fixture
def data(in_alpha):
    tenant_settings_get(schema_name="alpha")  # created on first read; not part of what is measured
    alice = make_user()
    old_query = _aged(QueryLog, query_log(user=alice, question="old question"), 91)
    new_query = _aged(QueryLog, query_log(user=alice, question="recent question"), 89)
    old_feedback = _aged(Feedback, Feedback.objects.create(user=alice, rating=1, question="q1"), 366)
    new_feedback = _aged(Feedback, Feedback.objects.create(user=alice, query=old_query, rating=1, question="q2"), 300)
    changes = ChangeLogEntry.objects.filter(object_pk=str(alice.pk))
    old_change = _aged(ChangeLogEntry, changes.first(), 400, field="timestamp")
    admin_entry = AdminLogEntry.objects.create(
        user=User.objects.get(username="admin"),
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(alice.pk),
        object_repr="someone",
        action_flag=CHANGE,
    )
    old_admin_entry = _aged(AdminLogEntry, admin_entry, 400, field="action_time")
    audit_event_record(action="test.recent")
    return locals()


def test_only_expired_rows_are_purged(data, archive_dir):
    report = expired_data_purge()

    assert (report.query_logs, report.feedback, report.change_log_entries, report.admin_log_entries) == (1, 1, 1, 1)
    assert report.audit_events == 0
    assert list(QueryLog.objects.filter(user=data["alice"])) == [data["new_query"]]
    assert list(Feedback.objects.all()) == [data["new_feedback"]]
    # Feedback outlives the query it rated (its copy of the question stays).
    assert data["new_feedback"].question == "q2"
    assert not ChangeLogEntry.objects.filter(pk=data["old_change"].pk).exists()
    assert not AdminLogEntry.objects.filter(pk=data["old_admin_entry"].pk).exists()
    assert audit_chain_verify().ok


def test_the_change_log_is_archived_and_its_hash_chained(data, archive_dir):
    expired_data_purge()

    archived = AuditEvent.objects.get(action="auditlog.archive")
    path = archive_dir / archived.details["archive_name"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == archived.details["archive_sha256"]
    assert f'"id": {data["old_change"].pk}' in path.read_text()
    assert AuditEvent.objects.order_by("-sequence").first().action == "retention.purge"


def test_expired_audit_events_are_archived_and_the_chain_continues(data, archive_dir):
    later = timezone.now() + timedelta(days=366)

    report = expired_data_purge(now=later)

    assert report.audit_events >= 1
    archive = AuditEvent.objects.get(action="audit.archive")
    assert archive.details["archive_sha256"] == report.archives[-1]["sha256"]
    assert not AuditEvent.objects.filter(action="test.recent").exists()
    verdict = audit_chain_verify()
    assert verdict.ok, verdict.describe()
    assert verdict.first_sequence == archive.details["last_sequence"] + 1


def test_retention_days_come_from_the_tenant_settings(data, archive_dir):
    from apps.tenants.services import tenant_settings_update

    tenant_settings_update(schema_name="alpha", actor=None, query_retention_days=30)
    _aged(QueryLog, data["new_query"], 45)

    assert expired_data_purge().query_logs == 2


def test_dry_run_changes_nothing(data, archive_dir, capsys):
    counts = (QueryLog.objects.count(), Feedback.objects.count(), ChangeLogEntry.objects.count())
    events = AuditEvent.objects.count()

    call_command("purge_expired", "--tenant", "alpha", "--dry-run")

    assert "would purge 1 query logs, 0 conversations, 1 feedback" in capsys.readouterr().out
    assert (QueryLog.objects.count(), Feedback.objects.count(), ChangeLogEntry.objects.count()) == counts
    assert AuditEvent.objects.count() == events
    assert list(archive_dir.iterdir()) == []


def test_the_command_purges_and_reports(data, archive_dir, capsys):
    call_command("purge_expired", "--tenant", "alpha")
    output = capsys.readouterr().out
    assert "purged 1 query logs, 0 conversations, 1 feedback, 1 change log entries" in output
    assert "archived change_log to alpha/" in output


def test_the_beat_schedule_runs_retention_daily():
    from django.conf import settings

    from apps.compliance.tasks import purge_expired_all_tenants
    from config.celery_app import app

    entry = settings.CELERY_BEAT_SCHEDULE["purge-expired-data"]
    # The name it had before the task moved to apps.compliance: schedules and queued messages use it.
    assert entry["task"] == "apps.feedback.tasks.purge_expired_all_tenants"
    assert entry["task"] in app.tasks
    assert purge_expired_all_tenants.name == entry["task"]
    assert entry["schedule"].hour == {3}


def test_the_daily_task_purges_every_tenant(data, archive_dir):
    from apps.compliance.tasks import purge_expired_all_tenants

    assert purge_expired_all_tenants.delay().get() >= 2  # alpha and beta, run eagerly in tests
    assert not QueryLog.objects.filter(pk=data["old_query"].pk).exists()
    assert FileSystemStorage(location=str(archive_dir)).listdir("")[0] == ["alpha"]
