"""Back up one tenant now (the daily Celery beat task does every tenant), or list its backups."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.compliance.tenant_backups import (
    BackupError,
    tenant_backup_create,
    tenant_backups_list,
    tenant_backups_prune,
)
from apps.core.errors import TenantContextRequired
from apps.tenants.selectors import tenant_settings_get


class Command(BaseCommand):
    help = "Dump one tenant's schema, graph and settings into the backup storage (BACKUP_STORAGE)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--list", action="store_true", help="list the tenant's backups instead")
        parser.add_argument(
            "--prune", action="store_true", help="then delete backups past the tenant's backup_retention_days"
        )

    def handle(self, *args, **options) -> None:
        schema = options["tenant"]
        if options["list"]:
            for backup in tenant_backups_list(schema_name=schema):
                self.stdout.write(f"{backup.name}\t{backup.size}\t{backup.created_at.isoformat()}")
            return
        try:
            backup = tenant_backup_create(schema_name=schema)
        except (TenantContextRequired, BackupError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"tenant {schema}: {backup.name} ({backup.size} bytes)")
        if options["prune"]:
            keep_days = tenant_settings_get(schema_name=schema).backup_retention_days
            for name in tenant_backups_prune(schema_name=schema, keep_days=keep_days):
                self.stdout.write(f"deleted {name}")
