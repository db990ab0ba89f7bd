"""Point a tenant at its identity provider (the same settings as the control plane's admin/settings)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.directory import DirectoryConflict, directory_group_ensure
from apps.tenants.context import in_tenant
from apps.tenants.services import tenant_settings_update
from apps.tenants.sso_config import client_secret_references


class Command(BaseCommand):
    help = "Configure single sign-on (OpenID Connect) for a tenant; docs/identity.md."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant schema name")
        parser.add_argument("--issuer", help="the provider's issuer URL")
        parser.add_argument("--client-id")
        parser.add_argument(
            "--client-secret-ref", help='"env:OIDC_CLIENT_SECRET_<NAME>" or "file:<name>" in OIDC_CLIENT_SECRETS_DIR'
        )
        parser.add_argument("--display-name", help='the sign-in button reads "Sign in with <this>"')
        parser.add_argument("--groups-claim", help='the ID token claim listing the person\'s groups (default "groups")')
        parser.add_argument("--allowed-domain", action="append", help="e-mail domain that may sign in (repeatable)")
        parser.add_argument("--password-sign-in", choices=["on", "off"])
        parser.add_argument(
            "--directory-group",
            action="append",
            default=[],
            help="make this group the directory's now, before anyone signs in, to grant it documents (repeatable)",
        )
        parser.add_argument(
            "--dev-logins", action="store_true", help="only print the loopback identity provider's demo accounts"
        )
        parser.add_argument(
            "--from-dev-idp",
            action="store_true",
            help="use the loopback identity provider `make services` started (OIDC_DEV_* in var/dev/services.env)",
        )

    def handle(self, *args, **options) -> None:
        if options["dev_logins"]:
            self._dev_logins_print()
            return
        changes = self._changes(options)
        try:
            tenant_settings_update(schema_name=options["tenant"], actor="system:configure_sso", **changes)
        except ValidationError as error:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items())
            ) from error
        with in_tenant(options["tenant"]):
            for name in options["directory_group"]:
                try:
                    directory_group_ensure(name, take_over=True)
                except DirectoryConflict as error:
                    raise CommandError(str(error)) from error
        self.stdout.write(f"single sign-on of {options['tenant']}: {', '.join(sorted(changes)) or 'unchanged'}")

    def _dev_logins_print(self) -> None:
        accounts_file = os.environ.get("OIDC_DEV_ACCOUNTS_FILE", "")
        if not accounts_file or not Path(accounts_file).is_file():
            return
        for login, account in json.loads(Path(accounts_file).read_text()).items():
            groups = ", ".join(account.get("groups") or []) or "no group"
            self.stdout.write(f"  SSO user: {login} / {account.get('password')}  ({groups})")

    @staticmethod
    def _changes(options: dict) -> dict:
        changes: dict = {}
        if options["from_dev_idp"]:
            issuer = os.environ.get("OIDC_DEV_ISSUER", "")
            if not issuer:
                raise CommandError("OIDC_DEV_ISSUER is not set: start the services with `make services` first")
            changes.update(
                sso_issuer=issuer,
                sso_client_id=os.environ.get("OIDC_DEV_CLIENT_ID", "portal"),
                sso_client_secret_ref=dev_client_secret_install(options["tenant"]),
                sso_display_name="the demo identity provider",
            )
        names = {
            "issuer": "sso_issuer",
            "client_id": "sso_client_id",
            "client_secret_ref": "sso_client_secret_ref",
            "display_name": "sso_display_name",
            "groups_claim": "sso_groups_claim",
            "allowed_domain": "sso_allowed_email_domains",
        }
        changes.update({field: options[option] for option, field in names.items() if options[option] is not None})
        if options["password_sign_in"]:
            changes["password_sign_in_enabled"] = options["password_sign_in"] == "on"  # noqa: S105
        return changes


def dev_client_secret_install(schema_name: str) -> str:
    """Copy the loopback provider's client secret to the tenant's own file in
    OIDC_CLIENT_SECRETS_DIR (never point a tenant at the provider's folder: its signing key is
    there too); returns the reference."""
    source = Path(os.environ.get("OIDC_DEV_CLIENT_SECRET_FILE", ""))
    if not settings.OIDC_CLIENT_SECRETS_DIR or not source.is_file():
        raise CommandError("the development identity provider's client secret was not found: run `make services`")
    folder = Path(settings.OIDC_CLIENT_SECRETS_DIR)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = folder / schema_name
    target.touch(mode=0o600, exist_ok=True)
    target.write_text(source.read_text().strip() + "\n")
    return client_secret_references(schema_name)[1]
