"""Verify a tenant's audit hash chain: prints OK, or the first broken link and exits non-zero.

With --archive FILE, also verify an archive written by retention: its own links and hashes, and
that the chain's audit.archive event records exactly this file (sha256) and its last hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.audit.chain import archive_problem
from apps.audit.models import AuditEvent
from apps.audit.selectors import ARCHIVE_ACTION, audit_chain_verify
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Recompute every link of a tenant's audit chain and report the first broken one (exit 1)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--archive", type=Path, help="also verify this archive file against the chain")

    def handle(self, *args, **options) -> None:
        tenant = options["tenant"]
        try:
            with in_tenant(tenant):
                verdict = audit_chain_verify()
                archive_report = self._archive(options["archive"]) if options["archive"] else ""
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        if not verdict.ok:
            raise CommandError(f"tenant {tenant}: {verdict.describe()}", returncode=1)
        self.stdout.write(f"tenant {tenant}: {verdict.describe()}")
        if archive_report:
            self.stdout.write(archive_report)

    @staticmethod
    def _archive(path: Path) -> str:
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        try:
            problem, summary = archive_problem(data)
        except (ValueError, KeyError) as error:
            raise CommandError(f"archive {path}: not an audit archive ({error})", returncode=1) from error
        if problem:
            raise CommandError(f"archive {path}: BROKEN at {problem}", returncode=1)
        recorded = AuditEvent.objects.filter(action=ARCHIVE_ACTION, details__archive_sha256=digest).first()
        if recorded is None:
            return (
                f"archive {path}: internally OK (#{summary.get('first_sequence')} to #{summary.get('last_sequence')}), "
                f"but no audit.archive event with sha256 {digest} is in the current chain (a later archive may hold it)"
            )
        if recorded.details.get("last_purged_hash") != summary.get("last_hash"):
            raise CommandError(
                f"archive {path}: its last hash differs from the one event #{recorded.sequence} recorded"
            )
        return f"archive {path}: OK, recorded by event #{recorded.sequence} (sha256 {digest})"
