"""Index a tenant's documents again from their kept originals (after changing its PII policy)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core.errors import TenantContextRequired
from apps.ingestion.backfills import documents_reprocess, reprocessable_documents
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = (
        "Index every indexed document of the tenant again from its kept original, under the tenant's "
        "current policies (run it after changing pii_at_ingestion). Safe to interrupt and run again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="the tenant's schema name")
        parser.add_argument("--batch-size", type=int, default=20, help="documents indexed together")

    def handle(self, *args, **options) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            with in_tenant(options["tenant"]):
                total = len(reprocessable_documents())
                with tqdm(total=total, unit="document", disable=None) as bar:
                    outcome = documents_reprocess(batch_size=options["batch_size"], on_progress=bar.update)
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        for document_id, reason in sorted(outcome.failed.items()):
            self.stderr.write(f"document {document_id}: {reason}")
        self.stdout.write(f"indexed {outcome.reindexed} of {total} documents again; {len(outcome.failed)} failed")
        if outcome.failed:
            raise CommandError(f"{len(outcome.failed)} documents were not indexed again (listed above)")
