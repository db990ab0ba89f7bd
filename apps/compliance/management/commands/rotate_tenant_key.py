"""Rotate a tenant's data key: re-seal its documents and chunks under a new key, then destroy the
old ones that no backup needs."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.compliance.tenant_backups import tenant_backup_key_ids
from apps.core.errors import TenantContextRequired
from apps.tenants.context import in_tenant
from apps.tenants.encryption.rotation import column_rows, sealed_columns, tenant_key_rotate


class Command(BaseCommand):
    help = (
        "Rotate a tenant's data key. Interrupted, run it again: it resumes (nothing is lost, the old "
        "key is destroyed only once nothing needs it). --seal-only keeps the key and seals values "
        "stored in the clear (after upgrading to encryption at rest)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("schema", help="the tenant's schema name")
        parser.add_argument("--seal-only", action="store_true", help="keep the key; seal what is not under it")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--opened-as",
            metavar="OLD_SCHEMA",
            help="the values were restored from another tenant's dump: open them with its keys",
        )

    def handle(self, *args, **options) -> None:
        schema = options["schema"]
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        try:
            with in_tenant(schema):
                total = sum(column_rows(model) for model, _field in sealed_columns())
            with tqdm(total=total, unit="row", disable=None) as bar:
                report = tenant_key_rotate(
                    schema_name=schema,
                    new_key=not options["seal_only"],
                    batch_size=options["batch_size"],
                    progress=lambda _label, rows: bar.update(rows),
                    backups_need=lambda: tenant_backup_key_ids(schema_name=schema),  # old backups stay readable
                    opened_as=options["opened_as"],
                )
        except TenantContextRequired as error:
            raise CommandError(str(error)) from error
        verb = "resumed" if report.resumed else "rotated"
        resealed = ", ".join(f"{label}: {count}" for label, count in report.resealed.items())
        self.stdout.write(
            f"tenant {schema}: {verb}; active key {report.key_id}; re-sealed {resealed}; "
            f"old keys destroyed: {report.keys_destroyed}"
        )
