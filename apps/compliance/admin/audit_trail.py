"""Compliance views of the audit trail (chained events) and of django-auditlog's field changes."""

from __future__ import annotations

from typing import Any

from auditlog.admin import LogEntryAdmin as AuditlogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from auditlog.models import LogEntry as AuditlogEntry
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.audit.models import AuditEvent

from .base import ComplianceAdmin, DateRangeFilter, UserIdFilter


class ActionFilter(admin.SimpleListFilter):
    title = "action"
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        actions = AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()
        return [(action, action) for action in actions]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(action=value) if value else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ComplianceAdmin):
    list_display = ("sequence", "created_at", "action", "outcome", "actor", "target", "ip")
    list_filter = (UserIdFilter, ("created_at", DateRangeFilter), ActionFilter, "outcome")
    search_fields = ("action", "actor_label", "target_type", "target_id", "target_label", "ip")
    ordering = ("-sequence",)
    csv_fields = (
        "sequence",
        "created_at",
        "action",
        "outcome",
        "actor_id",
        "actor_label",
        "actor",
        "tenant_schema",
        "target_type",
        "target_id",
        "target_label",
        "ip",
        "user_agent",
        "details",
        "prev_hash",
        "hash",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in AuditEvent._meta.fields] + ["actor"]

    @admin.display(description="actor")
    def actor(self, event: AuditEvent) -> str:
        """The pseudonymous label, with the account's current name (erased accounts say so)."""
        if event.actor_id is None:
            return event.actor_label
        username = get_user_model()._default_manager.filter(pk=event.actor_id).values_list("username", flat=True)
        return f"{event.actor_label} ({username.first() or 'deleted'})"

    @admin.display(description="target")
    def target(self, event: AuditEvent) -> str:
        kind = f"{event.target_type} " if event.target_type else ""
        return f"{kind}{event.target_label}".strip()


class ComplianceLogEntryAdmin(ComplianceAdmin, AuditlogEntryAdmin):
    """django-auditlog's field-change log, read-only, with the compliance filters and export."""

    list_filter = (
        ("actor", admin.RelatedOnlyFieldListFilter),
        ("timestamp", DateRangeFilter),
        "action",
        ResourceTypeFilter,
    )
    csv_fields = (
        "timestamp",
        "action",
        "content_type",
        "object_pk",
        "object_repr",
        "actor_id",
        "changes",
        "remote_addr",
    )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


if admin.site.is_registered(AuditlogEntry):
    admin.site.unregister(AuditlogEntry)
admin.site.register(AuditlogEntry, ComplianceLogEntryAdmin)
