"""Audit trail and its archive (docs/compliance.md)."""

from __future__ import annotations

from ..environment import BASE_DIR, env

# --- Audit, retention, compliance (docs/compliance.md) -----------------------------------------
# Behind a trusted reverse proxy that sets X-Forwarded-For, record its first address as the client IP.
AUDIT_TRUST_X_FORWARDED_FOR = env.bool("AUDIT_TRUST_X_FORWARDED_FOR", default=False)
# Where expired audit segments are archived before they are purged (any Django storage backend,
# e.g. storages.backends.s3.S3Storage with its OPTIONS).
AUDIT_ARCHIVE_STORAGE = {
    "BACKEND": env.str("AUDIT_ARCHIVE_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
    "OPTIONS": {"location": env.str("AUDIT_ARCHIVE_DIR", default=str(BASE_DIR / "var" / "audit-archive"))},
}
# Tenant backups (docs/operations.md, "Backups"): a daily dump per tenant into this storage (any
# Django storage backend, e.g. storages.backends.s3.S3Storage), each kept for the tenant's
# `backup_retention_days` (TenantSettings, default 30; a tenant's newest backup is never deleted).
BACKUP_STORAGE = {
    "BACKEND": env.str("BACKUP_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
    "OPTIONS": {"location": env.str("BACKUP_DIR", default=str(BASE_DIR / "var" / "backups"))},
}
if env.str("BACKUP_S3_BUCKET", default=""):
    # S3 or an S3-compatible store (MinIO, Ceph: BACKUP_S3_ENDPOINT_URL); credentials from the
    # instance role or the AWS_* variables boto3 reads. Backups are sealed before they leave.
    BACKUP_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("BACKUP_S3_BUCKET"),
            "region_name": env.str("BACKUP_S3_REGION", default="") or None,
            "endpoint_url": env.str("BACKUP_S3_ENDPOINT_URL", default="") or None,
            "location": env.str("BACKUP_S3_PREFIX", default=""),
            "file_overwrite": False,
        },
    }
# django-auditlog: JSON change lists (which models it tracks: apps/audit/registry.py).
AUDITLOG_STORE_JSON_CHANGES = True
