"""Record a shard in the directory's catalogue, with the address of its web processes."""

from django.core.management.base import BaseCommand, CommandError

from apps.directory.catalogue import DirectoryUnavailable, PlacementRefused, catalogue_ensure, shard_register
from apps.directory.services import directory_sync_if_local


class Command(BaseCommand):
    help = "Register a shard (or change its web address) in the directory; the directory is reloaded when it runs here."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="the shard's name, as its processes' PORTAL_SHARD says it")
        parser.add_argument(
            "--web-url", required=True, help="where the directory reaches its web processes, http://host:port"
        )

    def handle(self, *args, **options) -> None:
        try:
            catalogue_ensure()
            shard = shard_register(name=options["name"], web_url=options["web_url"])
        except (DirectoryUnavailable, PlacementRefused) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"shard {shard.name} registered at {shard.web_url}")
        if directory_sync_if_local():
            self.stdout.write("directory reloaded")
