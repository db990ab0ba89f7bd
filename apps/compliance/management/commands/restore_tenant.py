"""Restore a tenant backup under a new schema name, next to the live tenant, and serve it on its own host."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.compliance.tenant_backups import BackupError, tenant_backup_restore
from apps.ingestion.backfills import graph_rebuild
from apps.tenants.context import in_tenant
from apps.tenants.encryption.rotation import tenant_key_rotate
from apps.tenants.services import portal_tenant_provision


class Command(BaseCommand):
    help = "Restore BACKUP (a name from `backup_tenant --list`) into the new schema SCHEMA and register it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--backup", required=True, help="e.g. acme/acme-20261206T020700Z.tar.gz")
        parser.add_argument("--schema", required=True, help="a new schema name, e.g. acme_restored")
        parser.add_argument("--domain", required=True, help="host name to serve the restored copy on")
        parser.add_argument("--admin-email", required=True)

    def handle(self, *args, **options) -> None:
        schema = options["schema"]
        try:
            manifest = tenant_backup_restore(name=options["backup"], schema_name=schema)
            portal_tenant_provision(schema_name=schema, domain=options["domain"], admin_email=options["admin_email"])
        except (BackupError, ValidationError) as error:
            raise CommandError(str(error)) from error
        # The copy's documents are sealed under the backed-up tenant's keys: re-seal them under its own.
        tenant_key_rotate(schema_name=schema, new_key=False, opened_as=manifest["schema"])
        with in_tenant(schema):
            failed = graph_rebuild()  # the graph is derived: rebuilt from the restored chunks
        self.stdout.write(
            f"restored {manifest['schema']} of {manifest['created_at']} as {schema} on {options['domain']}"
            + (f"; the graph of {len(failed)} documents failed, run rebuild_graph again" if failed else "")
        )
