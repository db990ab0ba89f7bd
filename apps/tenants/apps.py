from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    label = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from apps.core.process_cache import process_cache_invalidated_by

        from .models import Domain, Tenant, TenantSettings

        process_cache_invalidated_by(Tenant, Domain, TenantSettings)
