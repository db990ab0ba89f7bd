from django.contrib import admin
from django_celery_results.admin import GroupResultAdmin, TaskResultAdmin
from django_celery_results.models import GroupResult, TaskResult
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


def _public_only(model: type, admin_class: type[admin.ModelAdmin]) -> None:
    """Re-register a shared-schema model's admin so it shows on the platform host only."""
    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, type(f"PublicOnly{admin_class.__name__}", (PublicSchemaOnlyAdmin, admin_class), {}))


# Celery's task results live in the public schema and name schemas, document ids and task
# arguments of every tenant: a tenant's admin must never list (or delete) them. Importing the
# library's admin first registers it, so it is replaced here whatever the app order.
_public_only(TaskResult, TaskResultAdmin)
_public_only(GroupResult, GroupResultAdmin)
