"""The shards, their health, and the tenants each holds with their sizes."""

import json

from django.core.management.base import BaseCommand, CommandError

from apps.directory.catalogue import DirectoryUnavailable, catalogue_ensure
from apps.directory.inventory import shards_inventory


class Command(BaseCommand):
    help = "List the shards of the directory: web and server health, tenants, their sizes."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args, **options) -> None:
        try:
            catalogue_ensure()
            inventory = shards_inventory()
        except DirectoryUnavailable as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(inventory, indent=2))
            return
        for shard in inventory:
            health = ", ".join(f"{name} {'ok' if ok else 'DOWN'}" for name, ok in shard["health"].items())
            self.stdout.write(f"shard {shard['name']}  {shard['web_url']}  {health}")
            for tenant in shard["tenants"]:
                size = "size unknown" if tenant["bytes"] is None else f"{tenant['bytes'] / 1e6:.1f} MB"
                chunks = "" if tenant["chunks"] is None else f", {tenant['chunks']} chunks"
                self.stdout.write(f"  {tenant['schema_name']:30} {tenant['state']:8} {size}{chunks}")
            if not shard["tenants"]:
                self.stdout.write("  (no tenants)")
