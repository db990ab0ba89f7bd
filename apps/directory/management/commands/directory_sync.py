"""Write the directory's proxy configuration from the catalogue and reload it; with --watch, on every change."""

import time

from django.core.management.base import BaseCommand, CommandError

from apps.directory.catalogue import DirectoryUnavailable, catalogue_change_number, catalogue_ensure
from apps.directory.services import directory_sync


class Command(BaseCommand):
    help = "Install the catalogue's routes in the directory (HAProxy at DIRECTORY_HAPROXY_HOME)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--watch", type=float, metavar="SECONDS", help="keep running, checking for changes this often"
        )

    def handle(self, *args, **options) -> None:
        try:
            catalogue_ensure()
            installed = self._install(-1)
            while options["watch"]:
                time.sleep(options["watch"])
                installed = self._install(installed)
        except (DirectoryUnavailable, RuntimeError, OSError) as error:
            raise CommandError(str(error)) from error

    def _install(self, installed: int) -> int:
        change = catalogue_change_number()
        if change != installed:
            path = directory_sync()
            self.stdout.write(f"directory configuration {change} installed: {path}")
        return change
