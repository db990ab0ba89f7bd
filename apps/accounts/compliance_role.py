"""The Compliance group: view-only access to the audit trail, change log, query history and feedback.

Its permissions are (re)applied after every migration of a tenant schema, so new tenants and new
compliance views get them without a manual step. Members also need `is_staff` to enter the admin.
Permissions are named by label: this module imports no higher layer.
"""

from __future__ import annotations

from functools import reduce
from operator import or_
from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.models import Q
from django_tenants.utils import get_public_schema_name

from .roles import COMPLIANCE_GROUP

COMPLIANCE_VIEW_PERMISSIONS = (
    "audit.view_auditevent",
    "auditlog.view_logentry",
    "answers.view_querylog",
    "feedback.view_feedback",
)


def compliance_group_ensure() -> Group:
    """Create the group if needed and give it the view permissions that exist (idempotent)."""
    group, _ = Group.objects.get_or_create(name=COMPLIANCE_GROUP)
    wanted = [label.split(".") for label in COMPLIANCE_VIEW_PERMISSIONS]
    permissions = Permission.objects.filter(
        reduce(or_, (Q(content_type__app_label=app, codename=codename) for app, codename in wanted))
    )
    missing = permissions.exclude(pk__in=group.permissions.values("pk"))
    if missing.exists():
        group.permissions.add(*missing)
    return group


def compliance_group_on_migrate(sender: Any, using: str = "default", verbosity: int = 1, **kwargs: Any) -> None:
    """post_migrate receiver: in tenant schemas only (the public schema has no compliance staff)."""
    if getattr(connection, "schema_name", None) in (None, get_public_schema_name()):
        return
    # Permissions are created app by app after migrating; make sure the later apps' exist already.
    for app_label in {label.split(".")[0] for label in COMPLIANCE_VIEW_PERMISSIONS}:
        if app_label in global_apps.app_configs:
            create_permissions(global_apps.get_app_config(app_label), verbosity=0, using=using)
    compliance_group_ensure()
