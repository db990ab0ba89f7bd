from django.contrib import admin
from django_tenants.admin import TenantAdminMixin
from django_tenants.utils import get_public_schema_name

from .models import Domain, Tenant


def on_public_host(request) -> bool:
    return getattr(request, "tenant", None) is not None and request.tenant.schema_name == get_public_schema_name()


class PublicSchemaOnlyAdmin(admin.ModelAdmin):
    """Tenants are managed by platform staff on the public host, never from inside a tenant
    (a tenant schema's search_path also reaches the public tables, so we must refuse here)."""

    def has_module_permission(self, request) -> bool:
        return on_public_host(request) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return on_public_host(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return on_public_host(request) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return on_public_host(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return on_public_host(request) and super().has_delete_permission(request, obj)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(TenantAdminMixin, PublicSchemaOnlyAdmin):
    list_display = ("name", "schema_name", "is_active", "created_at")
    search_fields = ("name", "schema_name")
    inlines = [DomainInline]
