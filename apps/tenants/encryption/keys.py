"""Tenants' data keys: made when first needed, unwrapped once per process, found by the id each value carries.

Sealing uses the tenant's active key, which a process remembers for `SEALING_KEY_SECONDS`: a
rotation waits longer than that before it re-seals, so no value is sealed under a key it is
about to destroy. Opening looks a key up by its id and refuses a key of another tenant (a value
copied between schemas does not open) and a key that no longer exists (a deleted tenant's).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.tenants.models import Tenant, TenantDataKey

from .kek import kek_for, key_encryption_key, previous_key_encryption_key

SEALING_KEY_SECONDS = 5.0
# A key that opens values is trusted this long before the database is asked again (a deleted
# tenant's key stops opening anything in other processes after this long at most).
OPENING_KEY_SECONDS = 300.0


class DataKeyUnavailable(Exception):
    """The key a value names does not exist (its tenant was deleted) or belongs to another tenant."""


@dataclass(frozen=True)
class DataKey:
    key_id: uuid.UUID
    schema_name: str
    aead: AESGCM


_lock = threading.Lock()
_sealing: dict[str, tuple[float, DataKey]] = {}
_opening: dict[uuid.UUID, tuple[float, DataKey]] = {}


def data_keys_forget() -> None:
    """Drop every key this process holds (a key or tenant was deleted; tests)."""
    with _lock:
        _sealing.clear()
        _opening.clear()


def _unwrapped(row: TenantDataKey, schema_name: str) -> DataKey:
    return DataKey(
        key_id=row.key_id, schema_name=schema_name, aead=AESGCM(kek_for(row.kek_id).unwrap(bytes(row.wrapped_key)))
    )


def tenant_data_key_create(*, tenant: Tenant) -> TenantDataKey:
    """A new active data key for the tenant; the one active before is retired (it still opens values)."""
    kek = key_encryption_key()
    with transaction.atomic():
        TenantDataKey.objects.select_for_update().filter(tenant=tenant, retired_at__isnull=True).update(
            retired_at=timezone.now()
        )
        row = TenantDataKey.objects.create(
            tenant=tenant, key_id=uuid.uuid4(), wrapped_key=kek.wrap(os.urandom(32)), kek_id=kek.key_id
        )
    data_keys_forget()
    return row


def _active_row(schema_name: str) -> TenantDataKey | None:
    return TenantDataKey.objects.filter(tenant__schema_name=schema_name, retired_at__isnull=True).first()


def sealing_key(schema_name: str) -> DataKey:
    """The tenant's active data key, made on first use (tenants created before encryption existed)."""
    now = time.monotonic()
    cached = _sealing.get(schema_name)
    if cached and now - cached[0] < SEALING_KEY_SECONDS:
        return cached[1]
    row = _active_row(schema_name)
    if row is None:
        tenant = Tenant.objects.filter(schema_name=schema_name).first()
        if tenant is None or schema_name == "public":
            raise DataKeyUnavailable(f"no tenant {schema_name!r} to seal data for")
        try:
            row = tenant_data_key_create(tenant=tenant)  # atomic: a failure rolls back only itself
        except IntegrityError:  # another process made it first
            row = _active_row(schema_name)
            if row is None:
                raise
    key = _unwrapped(row, schema_name)
    with _lock:
        _sealing[schema_name] = (now, key)
        _opening[key.key_id] = (now, key)
    return key


def stored_data_key(key_id: uuid.UUID) -> DataKey:
    """A key read from the database now, whichever tenant's (backups: never from this process's memory)."""
    row = TenantDataKey.objects.select_related("tenant").filter(key_id=key_id).first()
    if row is None:
        raise DataKeyUnavailable(f"the data key {key_id} no longer exists (its tenant was deleted)")
    return _unwrapped(row, row.tenant.schema_name)


def tenant_data_keys_open_all(*, schema_name: str) -> int:
    """Unwrap every stored data key of the tenant with this process's key-encryption key (a tenant
    moved here must be readable before it is served here); how many. Raises if one does not open."""
    rows = list(TenantDataKey.objects.filter(tenant__schema_name=schema_name))
    for row in rows:
        _unwrapped(row, schema_name)
    return len(rows)


def tenant_live_key_ids(schema_name: str) -> list[uuid.UUID]:
    """The data keys the tenant's stored values may be sealed under now: the active one and those
    of an unfinished rotation (not the re-sealed ones kept only for older backups)."""
    keys = TenantDataKey.objects.filter(tenant__schema_name=schema_name, resealed_at__isnull=True)
    return list(keys.values_list("key_id", flat=True))


def opening_key(key_id: uuid.UUID, schema_name: str) -> DataKey:
    """The key that sealed a value, if it exists and is this tenant's; DataKeyUnavailable otherwise."""
    now = time.monotonic()
    cached = _opening.get(key_id)
    if cached and now - cached[0] < OPENING_KEY_SECONDS:
        key = cached[1]
    else:
        key = stored_data_key(key_id)
        with _lock:
            _opening[key_id] = (now, key)
    if key.schema_name != schema_name:
        raise DataKeyUnavailable(f"this value was sealed for another tenant, not {schema_name!r}")
    return key


def tenant_keys_verify() -> str:
    """Start-up and readiness: the KEK is configured and opens the stored data keys (it raises otherwise).
    During a rotation of the KEK, keys still wrapped by the previous one are reported, not refused."""
    kek, previous = key_encryption_key(), previous_key_encryption_key()
    known = [kek.key_id] + ([previous.key_id] if previous else [])
    foreign = TenantDataKey.objects.exclude(kek_id__in=known).count()
    if foreign:
        raise RuntimeError(f"{foreign} tenant data keys were wrapped by another key-encryption key than {kek.key_id}")
    for kek_id in known:
        newest = TenantDataKey.objects.filter(kek_id=kek_id).order_by("-created_at").first()
        if newest is not None:
            kek_for(kek_id).unwrap(bytes(newest.wrapped_key))
    waiting = TenantDataKey.objects.exclude(kek_id=kek.key_id).count()
    if waiting:
        return f"key-encryption key {kek.key_id}; {waiting} data keys still under the previous one (rewrap_tenant_keys)"
    return f"key-encryption key {kek.key_id} opens the tenant keys"


def tenant_keys_rewrap(*, batch_size: int = 100, progress: Callable[[int], None] | None = None) -> int:
    """Re-wrap every data key the previous KEK wrapped under the configured KEK; returns how many.

    The data keys themselves do not change, so no sealed value or backup is touched. Each key is
    swapped only if it is still wrapped as it was read (compare and swap), so two runs, or a run
    interrupted and started again, never lose a key."""
    kek = key_encryption_key()
    done = 0
    while True:
        batch = list(TenantDataKey.objects.exclude(kek_id=kek.key_id).order_by("pk")[:batch_size])
        if not batch:
            return done
        for row in batch:
            rewrapped = kek.wrap(kek_for(row.kek_id).unwrap(bytes(row.wrapped_key)))
            TenantDataKey.objects.filter(pk=row.pk, kek_id=row.kek_id).update(wrapped_key=rewrapped, kek_id=kek.key_id)
        done += len(batch)
        if progress:
            progress(len(batch))
