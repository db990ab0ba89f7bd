"""Create an API key from the command line: the first key of a tenant, or one for a benchmark.

The key is printed once on stdout (and nothing else there, so scripts can capture it).
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.accounts.models import User
from apps.api.services import api_key_create
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant

ROUTE_CLASSES = ("query", "ingest", "admin")


def _rate_limits(values: list[str]) -> dict:
    """`query=100:10` -> {"query": {"capacity": 100, "refill_per_second": 10.0}}."""
    limits = {}
    for value in values:
        route_class, _, spec = value.partition("=")
        capacity, _, refill = spec.partition(":")
        try:
            bucket = {"capacity": int(capacity), "refill_per_second": float(refill)}
        except ValueError:
            raise CommandError(f"--rate-limit {value!r}: use CLASS=CAPACITY:REFILL_PER_SECOND") from None
        if route_class not in ROUTE_CLASSES or bucket["capacity"] < 1 or bucket["refill_per_second"] <= 0:
            raise CommandError(f"--rate-limit {value!r}: class one of {ROUTE_CLASSES}, positive numbers")
        limits[route_class] = bucket
    return limits


class Command(BaseCommand):
    help = "Create an API key acting as a tenant user; the key is printed once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="schema name, e.g. demo")
        parser.add_argument("--user", required=True, help="username the key acts as (and is created by)")
        parser.add_argument("--name", required=True, help="what the key is for")
        parser.add_argument("--scopes", default="query", help="comma-separated: query, ingest, admin")
        parser.add_argument("--expires-in-days", type=float, help="default: never expires")
        parser.add_argument(
            "--rate-limit", action="append", default=[], help="this key's own quota, e.g. query=1000:100 (repeatable)"
        )

    def handle(self, *args, **options) -> None:
        expires_at = None
        if options["expires_in_days"] is not None:
            expires_at = timezone.now() + timedelta(days=options["expires_in_days"])
        try:
            with in_tenant(options["tenant"]) as tenant:
                user = User.objects.filter(username=options["user"], is_active=True).first()
                if user is None:
                    raise CommandError(f"no active user {options['user']!r} in tenant {options['tenant']!r}")
                created = api_key_create(
                    tenant=tenant,
                    user=user,
                    created_by=user,
                    name=options["name"],
                    scopes=[scope.strip() for scope in options["scopes"].split(",") if scope.strip()],
                    expires_at=expires_at,
                    rate_limits=_rate_limits(options["rate_limit"]),
                )
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stdout.write(created.secret)
        self.stderr.write(f"key {created.key.prefix} ({', '.join(created.key.scopes)}) created; it is shown once.")
