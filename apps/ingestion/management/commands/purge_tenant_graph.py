"""Delete the knowledge graph a deleted tenant left in Neo4j (tenants deleted before deletion
removed their graph too). Refuses a schema that still belongs to a tenant: use rebuild_graph."""

from django.core.management.base import BaseCommand, CommandError

from apps.core.errors import TenantContextRequired
from apps.integrations.graph.knowledge import graph_stats, graph_tenant_clear
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Delete every Neo4j node and relationship of a schema name no tenant uses any more."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--schema", required=True, help="the deleted tenant's schema name")

    def handle(self, *args, **options) -> None:
        schema = options["schema"]
        if Tenant.objects.filter(schema_name=schema).exists():
            raise CommandError(f"{schema!r} is a live tenant's schema; its graph is rebuilt with rebuild_graph")
        try:
            before = graph_stats(tenant=schema)
            graph_tenant_clear(tenant=schema)
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"deleted the graph of {schema!r}: {before['chunks']} chunks, {before['entities']} entities")
