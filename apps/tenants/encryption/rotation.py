"""Key rotation: a new data key for the tenant, every sealed value re-sealed under it, the old keys destroyed.

Resumable by construction: each stored value names the key that sealed it, so a rotation that was
interrupted (killed, a lost connection) is finished by running it again, which skips what is
already sealed under the active key. Old keys are marked re-sealed only after a full pass found
nothing left under them, and destroyed then unless a backup still needs them (`backups_need`;
`tenant_keys_destroy_unused` destroys them once their last backup is pruned). A value is replaced
only if it is still the one read (compare and swap), so a row changed meanwhile is left to the
next pass, never overwritten.
The same walk seals values stored in the clear before encryption was turned on (`seal_only`).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import connection, models
from django.utils import timezone

from apps.audit.services import audit_event_record
from apps.tenants.context import in_tenant, tenant_for_schema
from apps.tenants.models import TenantDataKey

from .cipher import bytes_open, bytes_seal, sealing_key_id, text_open, text_seal
from .fields import EncryptedBinaryField, EncryptedTextField
from .keys import SEALING_KEY_SECONDS, DataKey, sealing_key, tenant_data_key_create

Progress = Callable[[str, int], None]  # (column label, rows just walked)
KeptKeys = Callable[[], Collection[uuid.UUID]]  # the data keys the tenant's backups still need


@dataclass
class RotationReport:
    key_id: str
    resumed: bool
    resealed: dict[str, int] = field(default_factory=dict)
    keys_destroyed: int = 0


def sealed_columns() -> Iterator[tuple[type[models.Model], EncryptedTextField | EncryptedBinaryField]]:
    """Every encrypted column of the tenant schemas' models."""
    for model in apps.get_models():
        for model_field in model._meta.concrete_fields:
            if isinstance(model_field, EncryptedTextField | EncryptedBinaryField):
                yield model, model_field


def tenant_key_rotate(
    *,
    schema_name: str,
    new_key: bool = True,
    batch_size: int = 500,
    progress: Progress | None = None,
    backups_need: KeptKeys = lambda: (),
    opened_as: str | None = None,
) -> RotationReport:
    """Rotate (or, with new_key=False, only seal what is not under the active key) and destroy old keys.

    `opened_as`: values were sealed for another tenant's schema (a restored backup of it); they are
    opened as that tenant's and sealed as this one's."""
    tenant = tenant_for_schema(schema_name)
    unfinished = TenantDataKey.objects.filter(tenant=tenant, retired_at__isnull=False, resealed_at__isnull=True)
    resumed = unfinished.exists() or not new_key
    if not resumed:
        tenant_data_key_create(tenant=tenant)
    # Processes keep sealing with the key they knew for SEALING_KEY_SECONDS: wait them out, so no
    # value lands under a retired key after the pass that should have re-sealed it.
    time.sleep(SEALING_KEY_SECONDS + 1)
    with in_tenant(schema_name):
        key = sealing_key(schema_name)
        report = RotationReport(key_id=str(key.key_id), resumed=resumed)
        audit_event_record(
            action="tenant.key_rotation_started",
            actor="system:key-rotation",
            target=f"tenant:{schema_name}",
            details={"key_id": report.key_id, "resumed": resumed},
        )
        while True:
            resealed = {
                model_field.column_label: _column_reseal(
                    schema_name, model, model_field, batch_size, progress, opened_as=opened_as or schema_name
                )
                for model, model_field in sealed_columns()
            }
            for label, count in resealed.items():
                report.resealed[label] = report.resealed.get(label, 0) + count
            if not any(resealed.values()):
                break  # a full pass found every value under the active key
        unfinished.update(resealed_at=timezone.now())
        report.keys_destroyed = tenant_keys_destroy_unused(schema_name=schema_name, backups_need=backups_need)
        audit_event_record(
            action="tenant.key_rotation_finished",
            actor="system:key-rotation",
            target=f"tenant:{schema_name}",
            details={"key_id": report.key_id, "resealed": report.resealed, "keys_destroyed": report.keys_destroyed},
        )
    return report


def column_rows(model: type[models.Model]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608
        return cursor.fetchone()[0]


def tenant_keys_destroy_unused(*, schema_name: str, backups_need: KeptKeys) -> int:
    """Destroy the tenant's re-sealed keys that no backup needs; returns how many.

    `backups_need` reads the backups' headers, so it is asked only when there is a re-sealed key
    to decide about (rarely: after a rotation), not on every daily prune."""
    resealed = TenantDataKey.objects.filter(tenant__schema_name=schema_name, resealed_at__isnull=False)
    if not resealed.exists():
        return 0
    destroyed, _ = resealed.exclude(key_id__in=list(backups_need())).delete()
    return destroyed


def _column_reseal(
    schema_name: str,
    model: type[models.Model],
    model_field: Any,
    batch_size: int,
    progress: Progress | None,
    *,
    opened_as: str,
) -> int:
    """One pass over a column in primary-key order; returns how many values it re-sealed."""
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model_field.column)
    pk = connection.ops.quote_name(str(model._meta.pk.column))
    label = model_field.column_label
    key = sealing_key(schema_name)
    is_text = isinstance(model_field, EncryptedTextField)
    # Uploaded files can be tens of megabytes each: far fewer of them per batch than passages.
    rows_per_batch = batch_size if is_text else max(1, batch_size // 50)
    last, resealed = None, 0
    while True:
        with connection.cursor() as cursor:
            after = f"WHERE {pk} > %s " if last is not None else ""
            cursor.execute(
                f"SELECT {pk}, {column} FROM {table} {after}ORDER BY {pk} LIMIT %s",  # noqa: S608
                [last, rows_per_batch] if last is not None else [rows_per_batch],
            )
            rows = cursor.fetchall()
        if not rows:
            return resealed
        changes = [_resealed(stored, key=key, label=label, opened_as=opened_as) for _row_pk, stored in rows]
        batch = [(row_pk, stored, new) for (row_pk, stored), new in zip(rows, changes, strict=True) if new is not None]
        if batch:
            # One statement per batch; a row changed since it was read keeps its value (next pass).
            kind = "text" if is_text else "bytea"
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} AS t SET {column} = v.new "  # noqa: S608
                    f"FROM unnest(%s::bigint[], %s::{kind}[], %s::{kind}[]) AS v(id, old, new) "
                    f"WHERE t.{pk} = v.id AND t.{column} = v.old",
                    [[row[0] for row in batch], [row[1] for row in batch], [row[2] for row in batch]],
                )
                resealed += cursor.rowcount
        last = rows[-1][0]
        if progress is not None:
            progress(label, len(rows))


def _resealed(stored: Any, *, key: DataKey, label: str, opened_as: str) -> Any:
    """The value sealed under `key`, or None when it already is (or is empty)."""
    if stored is None or sealing_key_id(stored) == key.key_id:
        return None
    if isinstance(stored, str):
        return text_seal(text_open(stored, schema_name=opened_as, column=label), key=key, column=label)
    return bytes_seal(bytes_open(bytes(stored), schema_name=opened_as, column=label), key=key, column=label)
