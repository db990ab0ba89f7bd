"""Audit events for actions that happen outside our services: sign-in/out and Django admin actions.

Each receiver runs in the transaction of the action that sent the signal (the admin's change and
delete views are atomic), so the action and its audit event commit or roll back together.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save

from .models import AuditEvent
from .services import AuditTarget, audit_event_record, target_label_for

ADMIN_ACTIONS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


def connect() -> None:
    user_logged_in.connect(_on_login, dispatch_uid="audit.auth.login")
    user_logged_out.connect(_on_logout, dispatch_uid="audit.auth.logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="audit.auth.login_failed")
    post_save.connect(_on_admin_log_entry, sender=LogEntry, dispatch_uid="audit.admin.log_entry")
    user_locked_out.connect(_on_lockout, dispatch_uid="audit.auth.lockout")


def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_event_record(action="auth.login", actor=user, target=user, request=request)


def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None:  # signing out without a session changes nothing
        return
    audit_event_record(action="auth.logout", actor=user, target=user, request=request)


def _on_login_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    user_model = get_user_model()
    username = str(credentials.get(user_model.USERNAME_FIELD) or credentials.get("username") or "")
    known = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first() if username else None
    # An unknown name may be someone's mistyped e-mail address: keep only a digest of it, enough to
    # spot repeated attempts on one name.
    details = {} if known else {"username_sha256": hashlib.sha256(username.lower().encode()).hexdigest()[:16]}
    audit_event_record(
        action="auth.login_failed",
        actor="anonymous",
        target=known if known is not None else "unknown user",
        request=request,
        details=details,
        outcome=AuditEvent.Outcome.FAILURE,
    )


def _on_lockout(sender: Any, request: Any, username: str | None = None, **kwargs: Any) -> None:
    """django-axes locked a user name after too many failed sign-ins."""
    user_model = get_user_model()
    known = user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).first() if username else None
    audit_event_record(
        action="auth.lockout",
        actor="anonymous",
        target=known if known is not None else "unknown user",
        request=request,
        details={"failure_limit": settings.AXES_FAILURE_LIMIT},
        outcome=AuditEvent.Outcome.FAILURE,
    )


def _on_admin_log_entry(sender: Any, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if created:
        admin_log_entry_audit(instance)


def admin_log_entry_audit(entry: LogEntry) -> AuditEvent:
    """One chained event for one Django admin log entry (add, change or delete of any object)."""
    content_type = entry.content_type
    target_type = f"{content_type.app_label}.{content_type.model}" if content_type else ""
    label = target_label_for(target_type, entry.object_id, entry.object_repr)
    return audit_event_record(
        action=ADMIN_ACTIONS.get(entry.action_flag, "admin.action"),
        actor=entry.user,
        target=AuditTarget(type=target_type, id=str(entry.object_id or ""), label=label),
        details={"admin_log_id": entry.pk, "changed": _changed_fields(entry)},
    )


def _changed_fields(entry: LogEntry) -> list[str]:
    """Field names only: values may be personal data (auditlog's change log keeps those, unchained)."""
    try:
        messages = json.loads(entry.change_message or "[]")
    except ValueError:
        return []
    if not isinstance(messages, list):
        return []
    return [str(name) for message in messages for name in message.get("changed", {}).get("fields", [])]
