"""Re-wrap every tenant's data keys under the configured key-encryption key (after rotating the KEK)."""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.tenants.encryption.kek import KeyEncryptionKeyMismatch, key_encryption_key
from apps.tenants.encryption.keys import tenant_keys_rewrap
from apps.tenants.models import TenantDataKey


class Command(BaseCommand):
    help = (
        "Re-wrap the tenants' data keys that the previous key-encryption key wrapped "
        "(TENANT_KEK_PREVIOUS_BACKEND) under the configured one. Sealed values and backups are not "
        "touched. Interrupted, run it again: it resumes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args, **options) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        kek = key_encryption_key()
        total = TenantDataKey.objects.exclude(kek_id=kek.key_id).count()
        try:
            with tqdm(total=total, unit="key", disable=None) as bar:
                done = tenant_keys_rewrap(batch_size=options["batch_size"], progress=bar.update)
        except KeyEncryptionKeyMismatch as error:
            raise CommandError(
                f"{error}. Configure the key-encryption key that wrapped them as the previous one."
            ) from None
        self.stdout.write(f"re-wrapped {done} data keys under {kek.key_id}")
