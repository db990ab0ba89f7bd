"""Export a tenant's reviewed feedback as a golden set (BEIR layout plus the checks of each case)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import TenantContextRequired
from apps.feedback.golden import golden_set_export
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Write reviewed feedback of a tenant to DIR as corpus.jsonl, queries.jsonl and qrels/test.tsv."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--out", required=True, type=Path, help="output directory (created if missing)")

    def handle(self, *args, **options) -> None:
        out: Path = options["out"]
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists and is not a directory")
        try:
            with in_tenant(options["tenant"]):
                count = golden_set_export(out_dir=out)
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"tenant {options['tenant']}: {count} golden cases written to {out}")
