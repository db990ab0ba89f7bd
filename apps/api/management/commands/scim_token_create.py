"""Make a SCIM token for a tenant's identity provider (as POST /api/v1/admin/scim-tokens does)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.api.scim.tokens import scim_token_create
from apps.tenants.context import in_tenant


class Command(BaseCommand):
    help = "Create a SCIM bearer token for a tenant; the token is printed once (last line)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--name", required=True, help='the SCIM client, e.g. "Okta"')

    def handle(self, *args, **options) -> None:
        with in_tenant(options["tenant"]):
            token, secret = scim_token_create(name=options["name"], actor="system:scim_token_create")
        self.stdout.write(f"SCIM token {token.prefix} for {token.name}; shown once:")
        self.stdout.write(secret)
