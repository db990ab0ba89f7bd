from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    label = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from apps.core.process_cache import process_cache_invalidated_by

        from .encryption.keys import data_keys_forget
        from .models import Domain, Tenant, TenantDataKey, TenantSettings

        process_cache_invalidated_by(Tenant, Domain, TenantSettings)
        # A destroyed key (a deleted tenant, the end of a rotation) stops opening values in this
        # process at once; other processes drop it within OPENING_KEY_SECONDS.
        for model in (Tenant, TenantDataKey):
            post_delete.connect(
                lambda **_kwargs: data_keys_forget(), sender=model, weak=False, dispatch_uid=f"data_keys_forget.{model}"
            )
