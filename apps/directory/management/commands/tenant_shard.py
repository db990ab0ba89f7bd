"""Print the shard that holds a tenant (scripts: run a tenant's commands with PORTAL_SHARD set to it)."""

from django.core.management.base import BaseCommand, CommandError

from apps.directory.catalogue import DirectoryUnavailable, catalogue_ensure, directory_configured, placement_for


class Command(BaseCommand):
    help = "Print the name of the shard holding a tenant; --default when it is placed nowhere yet."

    def add_arguments(self, parser) -> None:
        parser.add_argument("schema")
        parser.add_argument("--default", help="print this for a tenant not placed yet (instead of failing)")

    def handle(self, *args, **options) -> None:
        placement = None
        if directory_configured():
            try:
                catalogue_ensure()
                placement = placement_for(options["schema"])
            except DirectoryUnavailable as error:
                raise CommandError(str(error)) from error
        if placement is not None:
            self.stdout.write(placement.shard)
        elif options["default"]:
            self.stdout.write(options["default"])
        else:
            raise CommandError(f"Tenant {options['schema']!r} is not placed on any shard.")
