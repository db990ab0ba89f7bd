"""Rebuild a tenant's knowledge graph in Neo4j from PostgreSQL (the source of truth)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core.errors import TenantContextRequired
from apps.documents.models import Document
from apps.ingestion.backfills import graph_rebuild
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Clear the tenant's graph and re-extract entities for every indexed document."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True)

    def handle(self, *args, **options) -> None:
        try:
            with in_tenant(options["tenant"]):
                total = Document.objects.filter(status=Document.Status.INDEXED).count()
                with tqdm(total=total, unit="doc", disable=None) as bar:
                    failed = graph_rebuild(on_progress=bar.update)
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"graph rebuilt for {total - len(failed)} documents")
        if failed:
            raise CommandError(f"{len(failed)} documents failed (graph_status=failed): {failed[:20]}")
