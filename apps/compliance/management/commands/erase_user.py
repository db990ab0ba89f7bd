"""Erase a person from a tenant: query history text, feedback, personal fields (audit chain intact)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.compliance.erasure import user_erase
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Erase a user (GDPR art. 17): anonymise query history, delete feedback, clear the account."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--user", required=True, help="numeric user id (see the admin's user list)")
        parser.add_argument("--dry-run", action="store_true", help="count what would change, change nothing")

    def handle(self, *args, **options) -> None:
        if not str(options["user"]).isdigit():
            raise CommandError("--user takes the numeric user id")
        try:
            with in_tenant(options["tenant"]):
                report = user_erase(user_id=int(options["user"]), actor="system:erase_user", dry_run=options["dry_run"])
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        except User.DoesNotExist:
            raise CommandError(f"no user with id {options['user']} in tenant {options['tenant']}") from None
        verb = "would erase" if report.dry_run else "erased"
        self.stdout.write(
            f"tenant {options['tenant']}: {verb} user {report.user_id}: {report.query_logs} query logs and "
            f"{report.conversations} conversations anonymised, {report.feedback_deleted} feedback deleted, "
            f"{report.change_log_entries} change log and "
            f"{report.admin_log_entries} admin log entries scrubbed, {report.sessions} sessions ended"
        )
