"""Export a tenant's knowledge graph (Neo4j) to a JSON lines file."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.compliance.backups import tenant_graph_export
from apps.core.errors import TenantContextRequired
from apps.tenants.context import tenant_for_schema


class Command(BaseCommand):
    help = "Write every node and relationship of one tenant's graph to FILE as JSON lines."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--out", required=True, type=Path, help="output file (.jsonl)")

    def handle(self, *args, **options) -> None:
        try:
            tenant = tenant_for_schema(options["tenant"])
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        out: Path = options["out"]
        if not out.parent.is_dir():
            raise CommandError(f"{out.parent} is not a directory")
        partial = out.with_name(out.name + ".partial")
        with partial.open("w", encoding="utf-8") as handle:
            result = tenant_graph_export(tenant=tenant.schema_name, out=handle)
        partial.replace(out)  # a failed export never leaves a file that looks complete
        self.stdout.write(
            f"tenant {tenant.schema_name}: {result.nodes} nodes, {result.relationships} relationships written to {out}"
        )
