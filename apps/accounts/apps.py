from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.models import Group

        from apps.core.process_cache import process_cache_invalidated_by, process_cache_invalidated_by_m2m

        from .models import User

        # A login updates last_login only; it changes nothing the cache holds.
        process_cache_invalidated_by(User, ignore_fields=frozenset({"last_login"}))
        process_cache_invalidated_by(Group)
        process_cache_invalidated_by_m2m(User.groups.through)
