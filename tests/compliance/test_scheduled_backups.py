"""Scheduled tenant backups (docs/operations.md, "Backups"): the daily task dumps each tenant into the
backup storage, keeps them for the tenant's `backup_retention_days`, and `restore_tenant` brings one back under a
new schema that is served, searchable and verifiable."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from apps.audit.selectors import audit_chain_verify
from apps.audit.services import audit_event_record
from apps.compliance.sealed_archives import MAGIC, SealedArchiveError, archive_open
from apps.compliance.tasks import backup_tenant
from apps.compliance.tenant_backups import (
    BackupError,
    backup_storage,
    tenant_backup_create,
    tenant_backup_key_ids,
    tenant_backup_restore,
    tenant_backups_list,
    tenant_backups_prune,
)
from apps.documents.models import Chunk, Document
from apps.tenants.context import in_tenant
from apps.tenants.encryption import rotation
from apps.tenants.encryption.keys import sealing_key
from apps.tenants.models import Tenant, TenantDataKey
from apps.tenants.services import tenant_settings_update
from tests.documents.factories import indexed_document
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tenant(django_db_setup, django_db_blocker) -> Iterator[str]:
    with django_db_blocker.unblock(), committed_tenant("sbak") as tenant, in_tenant(tenant.schema_name):
        indexed_document(owner=None, title="Refund policy", texts=["Refunds within 30 days.", "Ask Finance."])
        audit_event_record(action="test.before_backup")
        yield tenant.schema_name


@pytest.fixture
def storage_dir(tmp_path: Path) -> Iterator[Path]:
    config = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}}
    with override_settings(BACKUP_STORAGE=config):
        yield tmp_path


def test_the_daily_task_backs_up_every_tenant_on_a_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["backup-tenants"]
    assert entry["task"] == "apps.compliance.tasks.backup_all_tenants"


def opened(name: str, folder: Path) -> Path:
    target = folder / "opened.tar.gz"
    with backup_storage().open(name, "rb") as stored:
        archive_open(stored, target)
    return target


def test_a_backup_holds_the_schema_the_graph_and_the_settings(tenant, storage_dir, committed_db, tmp_path):
    result = backup_tenant(schema_name=tenant)

    [backup] = tenant_backups_list(schema_name=tenant)
    assert result["backup"] == backup.name
    assert backup.name.endswith(".tar.gz.sealed")
    assert backup.size > 0
    with tarfile.open(opened(backup.name, tmp_path)) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())
        settings_row = json.loads(tar.extractfile("settings.json").read())
    assert names == {"manifest.json", "schema.dump", "graph.jsonl", "settings.json"}
    assert manifest["schema"] == tenant
    assert "query_retention_days" in settings_row


def test_a_backup_restores_under_a_new_schema_and_is_served(tenant, storage_dir, committed_db):
    backup = tenant_backup_create(schema_name=tenant)
    restored = f"{tenant}_restored"
    try:
        call_command(
            "restore_tenant",
            "--backup",
            backup.name,
            "--schema",
            restored,
            "--domain",
            f"{restored}.localhost",
            "--admin-email",
            "it@example.com",
        )
        with in_tenant(restored):  # registered: an active tenant
            assert set(Document.objects.values_list("title", flat=True)) == {"Refund policy"}
            texts = Chunk.objects.exclude(embedding=None).values_list("text", flat=True)
            assert "Refunds within 30 days." in texts  # re-sealed under the restored tenant's own key
            verdict = audit_chain_verify()
            assert verdict.ok, verdict.describe()
        with in_tenant(tenant):
            assert Document.objects.count() == 1  # the live tenant is untouched
        with pytest.raises(BackupError, match="already exists"):
            tenant_backup_restore(name=backup.name, schema_name=restored)
    finally:
        Tenant.objects.filter(schema_name=restored).delete()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{restored}" CASCADE')


def test_a_backup_is_ciphertext_under_the_tenants_key(tenant, storage_dir, committed_db):
    backup = tenant_backup_create(schema_name=tenant)
    with backup_storage().open(backup.name, "rb") as stored:
        data = stored.read()
    assert data.startswith(MAGIC)
    with in_tenant(tenant):
        active = str(sealing_key(tenant).key_id)
    assert json.loads(data[len(MAGIC) :].split(b"\n", 1)[0])["key_id"] == active
    assert b"Refunds" not in data
    assert b"\x1f\x8b" not in data[:200]  # not a gzip stream in the clear


def test_a_damaged_or_cut_backup_is_refused(tenant, storage_dir, committed_db, tmp_path):
    backup = tenant_backup_create(schema_name=tenant)
    path = storage_dir / backup.name
    data = path.read_bytes()
    for damaged, reason in (
        (data[:-10], "damaged, missing or cut short"),
        (data[:-1] + bytes([data[-1] ^ 1]), "damaged"),
    ):
        path.write_bytes(damaged)
        with pytest.raises(BackupError, match=reason):
            tenant_backup_restore(name=backup.name, schema_name=f"{tenant}_damaged")
    path.write_bytes(data[: len(MAGIC) + 5])
    with pytest.raises(BackupError, match="damaged"):
        tenant_backup_restore(name=backup.name, schema_name=f"{tenant}_damaged")


def test_a_deleted_tenants_backup_cannot_be_decrypted(storage_dir, committed_db, tmp_path):
    with committed_tenant("gone") as gone, in_tenant(gone.schema_name):
        indexed_document(owner=None, title="Secret plan", texts=["The merger closes in May."])
        backup = tenant_backup_create(schema_name=gone.schema_name)
        assert opened(backup.name, tmp_path).stat().st_size > 0  # opens while the tenant exists
    # Deleting the tenant destroyed its data keys: the backup left in storage is unreadable.
    assert not TenantDataKey.objects.filter(tenant__schema_name=gone.schema_name).exists()
    with pytest.raises(SealedArchiveError, match="no longer exists"):
        opened(backup.name, tmp_path)
    with pytest.raises(BackupError, match="cannot be decrypted"):
        tenant_backup_restore(name=backup.name, schema_name="gone_restored")


def test_a_rotation_keeps_the_keys_backups_need_until_they_are_pruned(storage_dir, committed_db, monkeypatch):
    monkeypatch.setattr(rotation, "SEALING_KEY_SECONDS", -1)
    now = datetime.now(UTC)
    with committed_tenant("rot") as rotated, in_tenant(rotated.schema_name):
        schema = rotated.schema_name
        indexed_document(owner=None, title="Plan", texts=["Quarterly plan."])
        old_key = sealing_key(schema).key_id
        old = tenant_backup_create(schema_name=schema, now=now - timedelta(days=40))

        call_command("rotate_tenant_key", schema)

        assert sealing_key(schema).key_id != old_key
        assert TenantDataKey.objects.filter(key_id=old_key, resealed_at__isnull=False).exists()  # kept
        new = tenant_backup_create(schema_name=schema, now=now)
        assert tenant_backup_key_ids(schema_name=schema) >= {old_key}

        assert tenant_backups_prune(schema_name=schema, keep_days=30, now=now) == [old.name]
        assert not TenantDataKey.objects.filter(key_id=old_key).exists()  # its last backup is gone
        assert [backup.name for backup in tenant_backups_list(schema_name=schema)] == [new.name]


def test_old_backups_are_pruned_but_never_the_newest(tenant, storage_dir, committed_db):
    now = datetime(2026, 12, 6, 2, 7, tzinfo=UTC)
    for days_ago in (45, 31, 10):
        tenant_backup_create(schema_name=tenant, now=now - timedelta(days=days_ago))

    deleted = tenant_backups_prune(schema_name=tenant, keep_days=30, now=now)

    assert len(deleted) == 2
    assert [backup.created_at for backup in tenant_backups_list(schema_name=tenant)] == [now - timedelta(days=10)]
    # Even a newest backup past the retention is kept: a tenant always has one.
    assert tenant_backups_prune(schema_name=tenant, keep_days=1, now=now) == []


def test_bad_requests_get_clear_errors(tenant, storage_dir, committed_db):
    with pytest.raises(BackupError, match="not a backup name"):
        tenant_backup_restore(name="../etc/passwd", schema_name="x_restored")
    with pytest.raises(BackupError, match="no backup"):
        tenant_backup_restore(name=f"{tenant}/{tenant}-20260101T000000Z.tar.gz", schema_name="x_restored")
    backup = tenant_backup_create(schema_name=tenant)
    with pytest.raises(BackupError, match="not a schema name"):
        tenant_backup_restore(name=backup.name, schema_name='bad"; DROP SCHEMA public; --')
    with pytest.raises(CommandError, match="no active tenant"):
        call_command("backup_tenant", "--tenant", "nobody_here")


def test_the_daily_task_keeps_backups_for_the_tenants_own_retention(tenant, storage_dir, committed_db):
    tenant_settings_update(schema_name=tenant, actor=None, backup_retention_days=5)
    try:
        old = tenant_backup_create(schema_name=tenant, now=datetime.now(UTC) - timedelta(days=6))
        recent = tenant_backup_create(schema_name=tenant, now=datetime.now(UTC) - timedelta(days=4))

        result = backup_tenant(schema_name=tenant)
    finally:
        tenant_settings_update(schema_name=tenant, actor=None, backup_retention_days=30)

    assert result["pruned"] == [old.name]
    assert [backup.name for backup in tenant_backups_list(schema_name=tenant)] == [recent.name, result["backup"]]
    with pytest.raises(ValidationError):
        tenant_settings_update(schema_name=tenant, actor=None, backup_retention_days=0)
