"""Benchmark answer streams against a running portal: `manage.py bench_streams --concurrency 50 --seconds 30`.

Prints one JSON object: time to first token (p50/p95/max), completed and failed answers, and how
long a cancelled stream took to release its provider call. Run it on the machine whose database
the server uses (it creates bench users and their sessions in the tenant).
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.bench.streams import DEFAULT_QUESTIONS, Target, bench_run, bench_sessions, summary
from apps.tenants.models import Domain


class Command(BaseCommand):
    help = "Open many answer streams against a running server and report TTFT, failures and cancel release time."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="ws://demo.localhost:8000/ws/ask/", help="the ask socket of a tenant host")
        parser.add_argument("--concurrency", type=int, default=50)
        parser.add_argument("--seconds", type=float, default=30.0)
        parser.add_argument(
            "--users-per-client",
            type=int,
            default=3,
            help="bench users taking turns on each client's stream (keeps each under its question budget)",
        )
        parser.add_argument("--cancel-probes", type=int, default=10)
        parser.add_argument("--question", action="append", help="repeatable; default: questions on the sample handbook")
        parser.add_argument("--unique-questions", action="store_true", help="defeat the response cache")
        parser.add_argument(
            "--connect-to",
            default="",
            help="address to dial instead of the URL's host (default: 127.0.0.1 for *.localhost)",
        )

    def handle(self, *args, **options) -> None:
        if options["concurrency"] < 1 or options["seconds"] <= 0 or options["users_per_client"] < 1:
            raise CommandError("--concurrency and --users-per-client must be at least 1 and --seconds positive.")
        parts = urlsplit(options["url"])
        if parts.scheme not in {"ws", "wss"} or not parts.hostname:
            raise CommandError(f"--url must be a ws:// or wss:// URL, not {options['url']!r}.")
        domain = Domain.objects.select_related("tenant").filter(domain=parts.hostname).first()
        if domain is None:
            raise CommandError(f"No tenant serves {parts.hostname!r}; create one with create_portal_tenant.")
        connect_to = options["connect_to"] or ("127.0.0.1" if parts.hostname.endswith(".localhost") else None)
        users = options["concurrency"] * options["users_per_client"]
        sessions = bench_sessions(schema_name=domain.tenant.schema_name, count=users)
        target = Target(
            url=options["url"],
            connect_host=connect_to,
            session_keys=sessions,
            questions=tuple(options["question"] or DEFAULT_QUESTIONS),
            unique_questions=options["unique_questions"],
        )
        result = asyncio.run(
            bench_run(
                target=target,
                concurrency=options["concurrency"],
                seconds=options["seconds"],
                cancel_probes=options["cancel_probes"],
            )
        )
        report = summary(result, concurrency=options["concurrency"], seconds=options["seconds"])
        self.stdout.write(json.dumps(report, indent=2))
