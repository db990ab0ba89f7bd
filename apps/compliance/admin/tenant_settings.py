"""Tenant settings in the admin: a tenant's admins edit their own tenant's row, nobody else's.

The row lives in the public schema (apps.tenants.models.TenantSettings), so the queryset is cut
to the tenant the request came in on (fail closed: no tenant, no rows). Saving goes through
`tenant_settings_update`, which validates and writes the chained "settings.update" audit event
with the old and new values; the admin's own change log is skipped so the change is audited once.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django_tenants.utils import get_public_schema_name

from apps.tenants.models import TENANT_SETTINGS_EDITABLE_FIELDS, TenantSettings
from apps.tenants.selectors import tenant_settings_get
from apps.tenants.services import SUPERUSER_ONLY_SETTINGS, tenant_settings_update

EDITABLE = TENANT_SETTINGS_EDITABLE_FIELDS


def _tenant_schema(request: HttpRequest) -> str | None:
    tenant = getattr(request, "tenant", None)
    schema = getattr(tenant, "schema_name", None)
    return schema if schema and schema != get_public_schema_name() else None


class TenantSettingsForm(forms.ModelForm):
    """Validation and the change are one service call; its errors land on the form's fields."""

    class Meta:
        model = TenantSettings
        fields = EDITABLE

    def __init__(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors or self.request is None:
            return cleaned
        changes = {name: cleaned[name] for name in self.changed_data if name in EDITABLE}
        try:
            # Runs inside the admin view's transaction: a later failure rolls it back too.
            tenant_settings_update(schema_name=self.instance.tenant.schema_name, actor=self.request.user, **changes)
        except PermissionDenied as error:
            self.add_error(None, str(error))
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return cleaned


class TenantSettingsAdmin(admin.ModelAdmin):
    form = TenantSettingsForm
    list_display = (
        "tenant",
        "query_retention_days",
        "feedback_retention_days",
        "audit_retention_days",
        "backup_retention_days",
        "updated_at",
    )
    readonly_fields = ("tenant", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        """Single sign-on is a superuser's to change (apps.tenants.services)."""
        extra = () if request.user.is_superuser else tuple(sorted(SUPERUSER_ONLY_SETTINGS))
        return (*self.readonly_fields, *extra)

    fields = ("tenant", *EDITABLE, "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TenantSettings]:
        schema = _tenant_schema(request)
        if schema is None:
            return TenantSettings.objects.none()
        tenant_settings_get(schema_name=schema)  # the row exists from the first look on
        return super().get_queryset(request).filter(tenant__schema_name=schema)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _tenant_schema(request) is not None and super().has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)

        class RequestBoundForm(form_class):  # type: ignore[valid-type, misc]
            def __init__(self, *args: Any, **form_kwargs: Any) -> None:
                super().__init__(*args, request=request, **form_kwargs)

        return RequestBoundForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Nothing left to do: the form's clean applied the change through the service."""

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        """The service already wrote the audit event (with old and new values)."""
        return None


admin.site.register(TenantSettings, TenantSettingsAdmin)
