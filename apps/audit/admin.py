"""Bulk deletions from any admin list are audited one event per object (Django writes their admin
log entries with bulk_create, which sends no post_save signal).

The compliance views of the audit trail are in apps/compliance/admin/audit_trail.py.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.admin.actions import delete_selected
from django.contrib.admin.models import DELETION, LogEntry
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import AuditEvent
from .receivers import admin_log_entry_audit


@admin.action(description="Delete selected %(verbose_name_plural)s", permissions=["delete"])
def audited_delete_selected(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> Any:
    """Django's bulk delete, plus one audit event for every object it deleted, in one transaction."""
    last_entry = LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with transaction.atomic():
        response = delete_selected(modeladmin, request, queryset)
        new_entries = LogEntry.objects.filter(
            pk__gt=last_entry, action_flag=DELETION, user_id=cast(int, request.user.pk)
        )
        audited = set(
            AuditEvent.objects.filter(
                action="admin.delete", details__admin_log_id__in=[e.pk for e in new_entries]
            ).values_list("details__admin_log_id", flat=True)
        )
        for entry in new_entries:
            if entry.pk not in audited:  # a single deletion was saved one by one and audited already
                admin_log_entry_audit(entry)
    return response


admin.site.add_action(audited_delete_selected, "delete_selected")
