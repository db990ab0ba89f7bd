from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    label = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from apps.core.process_cache import process_cache_invalidated_by
        from apps.directory.services import tenant_unplace_here

        from .encryption.keys import data_keys_forget
        from .models import Domain, Tenant, TenantDataKey, TenantSettings

        process_cache_invalidated_by(Tenant, Domain, TenantSettings)
        # A destroyed key (a deleted tenant, the end of a rotation) stops opening values in this
        # process at once; other processes drop it within OPENING_KEY_SECONDS.
        for model in (Tenant, TenantDataKey):
            post_delete.connect(
                lambda **_kwargs: data_keys_forget(), sender=model, weak=False, dispatch_uid=f"data_keys_forget.{model}"
            )
        # A deleted tenant leaves the directory too (only if this shard holds it: the source of a
        # move deletes its copy after the target took over, and that placement stays).
        post_delete.connect(
            lambda instance, **_kwargs: tenant_unplace_here(schema_name=instance.schema_name),
            sender=Tenant,
            weak=False,
            dispatch_uid="directory_unplace",
        )
