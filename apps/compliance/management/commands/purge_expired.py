"""Purge query history, feedback and audit data past each tenant's retention days (audit archived)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.audit.retention import AuditChainBroken
from apps.compliance.retention import expired_data_purge
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant
from apps.tenants.selectors import active_tenant_schemas


class Command(BaseCommand):
    help = "Apply retention: delete expired query logs and feedback, archive then purge expired audit data."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="one tenant schema (default: every active tenant)")
        parser.add_argument("--dry-run", action="store_true", help="count what would go, change nothing")

    def handle(self, *args, **options) -> None:
        schemas = [options["tenant"]] if options["tenant"] else active_tenant_schemas()
        problems = []
        for schema in schemas:
            try:
                with in_tenant(schema):
                    report = expired_data_purge(dry_run=options["dry_run"])
            except (TenantContextRequired, AuditChainBroken) as error:
                problems.append(f"{schema}: {error}")
                continue
            verb = "would purge" if report.dry_run else "purged"
            self.stdout.write(
                f"tenant {schema}: {verb} {report.query_logs} query logs, {report.conversations} conversations, "
                f"{report.feedback} feedback, "
                f"{report.change_log_entries} change log entries, {report.admin_log_entries} admin log entries, "
                f"{report.audit_events} audit events"
            )
            for archive in report.archives:
                self.stdout.write(f"  archived {archive['kind']} to {archive['name']} (sha256 {archive['sha256']})")
        if problems:
            raise CommandError("; ".join(problems))
