"""`manage.py serve`: the production web process (daphne with a graceful drain on SIGTERM)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.health.serving import serve


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets; on SIGTERM stop taking traffic and let in-flight work finish."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (0.0.0.0 in containers)")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--drain-seconds",
            type=float,
            default=None,
            help="longest wait for in-flight requests and streams after SIGTERM (SHUTDOWN_DRAIN_SECONDS)",
        )

    def handle(self, *args, **options) -> None:
        drain = settings.SHUTDOWN_DRAIN_SECONDS if options["drain_seconds"] is None else options["drain_seconds"]
        serve(
            host=options["bind"],
            port=options["port"],
            drain_seconds=drain,
            grace_seconds=settings.SHUTDOWN_GRACE_SECONDS,
        )
