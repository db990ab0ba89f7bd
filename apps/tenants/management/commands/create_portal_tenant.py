"""Create a tenant with its host name, default groups and administrator (idempotent)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.tenants.services import portal_tenant_provision


class Command(BaseCommand):
    help = "Create a portal tenant: schema, domain, default groups and an admin user (password printed once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("schema", help="PostgreSQL schema name, e.g. acme")
        parser.add_argument("--domain", required=True, help="host name the tenant is served on, e.g. acme.example.com")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--name", help="display name (defaults to the schema name)")
        parser.add_argument("--reset-password", action="store_true", help="generate a new admin password")
        parser.add_argument(
            "--shard",
            help="the shard to create it on: must be the one this process serves (PORTAL_SHARD); "
            "the directory's catalogue records the placement",
        )
        parser.add_argument(
            "--password-file",
            help="also write a newly generated password to this file (mode 600), for local tooling",
        )

    def handle(self, *args, **options) -> None:
        self._check_shard(options["shard"])
        try:
            result = portal_tenant_provision(
                schema_name=options["schema"],
                domain=options["domain"],
                admin_email=options["admin_email"],
                name=options["name"],
                reset_password=options["reset_password"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        verb = "created" if result.created else "already exists, checked"
        self.stdout.write(f"tenant {result.tenant.schema_name} {verb}; served at http://{result.domain.domain}")
        admin = result.admin
        if admin.generated_password:
            self.stdout.write(f"admin user: {admin.user.username}  password: {admin.generated_password}")
            self.stdout.write("The password is shown once; store it now.")
            if options["password_file"]:
                self._write_password_file(options["password_file"], admin.generated_password)
        else:
            self.stdout.write(
                f"admin user: {admin.user.username} (password unchanged; --reset-password sets a new one)"
            )

    @staticmethod
    def _check_shard(shard: str | None) -> None:
        """A tenant is created by a process of the shard that will hold it, never through another's servers."""
        if shard is None:
            return
        if not settings.DIRECTORY_DATABASE_URL:
            raise CommandError("--shard needs the directory's catalogue (DIRECTORY_DATABASE_URL); this is one shard.")
        if shard != settings.PORTAL_SHARD:
            raise CommandError(
                f"This process serves shard {settings.PORTAL_SHARD!r}: run the command with PORTAL_SHARD={shard} "
                f"(the shard's own environment) to create a tenant on {shard!r}."
            )

    @staticmethod
    def _write_password_file(path: str, password: str) -> None:
        import os

        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(password + "\n")
