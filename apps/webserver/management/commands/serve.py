"""`manage.py serve`: the production web process (daphne with a graceful drain on SIGTERM)."""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.webserver.serving import serve
from apps.webserver.workers import follow_supervisor, serve_workers


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets; on SIGTERM stop taking traffic and let in-flight work finish."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (0.0.0.0 in containers)")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="web processes sharing the socket, about one per core (WEB_WORKERS, default 2)",
        )
        parser.add_argument(
            "--drain-seconds",
            type=float,
            default=None,
            help="longest wait for in-flight requests and streams after SIGTERM (SHUTDOWN_DRAIN_SECONDS)",
        )
        # Internal: how the supervisor (apps/webserver/workers.py) hands a worker its socket.
        parser.add_argument("--listening-fd", type=int, default=None, help="serve on this inherited socket")
        parser.add_argument("--supervisor-pid", type=int, default=None, help="stop when this process dies")
        parser.add_argument("--load-table-fd", type=int, default=None, help="the workers' shared connection counts")
        parser.add_argument("--worker-slot", type=int, default=None, help="this worker's entry in that table")

    def handle(self, *args, **options) -> None:
        drain = settings.SHUTDOWN_DRAIN_SECONDS if options["drain_seconds"] is None else options["drain_seconds"]
        workers = settings.WEB_WORKERS if options["workers"] is None else options["workers"]
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        if workers > 1 and options["listening_fd"] is None:
            sys.exit(serve_workers(host=options["bind"], port=options["port"], workers=workers, drain_seconds=drain))
        if options["supervisor_pid"] is not None:
            follow_supervisor(options["supervisor_pid"])
        serve(
            host=options["bind"],
            port=options["port"],
            drain_seconds=drain,
            grace_seconds=settings.SHUTDOWN_GRACE_SECONDS,
            listening_fd=options["listening_fd"],
            load_slot=None if options["load_table_fd"] is None else (options["load_table_fd"], options["worker_slot"]),
        )
