from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.models import Group
        from django.contrib.sessions.models import Session

        from apps.core.process_cache import process_cache_invalidated_by, process_cache_invalidated_by_m2m

        from .models import User

        # A login updates last_login only; it changes nothing the cache holds.
        process_cache_invalidated_by(User, ignore_fields=frozenset({"last_login"}))
        process_cache_invalidated_by(Group)
        # A socket's session is read through the cache (apps/portal/realtime/identity.py): a sign-in,
        # a sign-out or a session removed by hand makes every process read sessions again.
        process_cache_invalidated_by(Session)
        process_cache_invalidated_by_m2m(User.groups.through)

        # The Compliance group's view permissions, after each tenant migration (roles live here).
        from .compliance_role import compliance_group_on_migrate

        post_migrate.connect(compliance_group_on_migrate, sender=self, dispatch_uid="accounts.compliance_group")
