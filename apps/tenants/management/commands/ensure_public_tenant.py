"""Make sure the public schema has its tenant row and a host name for platform staff."""

from django.core.management.base import BaseCommand

from apps.tenants.services import public_tenant_ensure


class Command(BaseCommand):
    help = "Create the public tenant and its domain if missing (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--domain", default="localhost")

    def handle(self, *args, **options) -> None:
        public_tenant_ensure(domain=options["domain"])
        self.stdout.write(f"public tenant served at http://{options['domain']}")
