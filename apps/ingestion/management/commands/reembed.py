"""Re-embed chunks with the configured embedder (after changing EMBEDDER_BACKEND)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.core.errors import TenantContextRequired
from apps.ingestion.backfills import chunks_reembed, stale_chunk_count
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Re-embed the tenant's chunks embedded by another model (or all with --all)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--all", action="store_true", help="re-embed every chunk, not only stale ones")

    def handle(self, *args, **options) -> None:
        only_stale = not options["all"]
        try:
            with in_tenant(options["tenant"]):
                total = stale_chunk_count(only_stale=only_stale)
                with tqdm(total=total, unit="chunk", disable=None) as bar:
                    changed = chunks_reembed(only_stale=only_stale, on_progress=bar.update)
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"re-embedded {changed} chunks")
