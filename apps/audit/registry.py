"""Which models django-auditlog tracks field by field (who changed what, when, from where).

Everything that holds tenant data or configuration: documents and their versions, object
permissions, users, groups, tenant settings and API keys. Models are named by label, so this
module imports no higher layer; a model whose app is not installed (yet) is skipped.
The change log lives in the schema the change happens in (auditlog is a tenant app too).
"""

from __future__ import annotations

from typing import Any

from auditlog.registry import auditlog
from django.apps import apps

# label -> auditlog.register() options
TRACKED_MODELS: dict[str, dict[str, Any]] = {
    "documents.Document": {},
    # The bytes of a version are not a "field change" anyone can read; its metadata is.
    "documents.DocumentVersion": {"exclude_fields": ["content"]},
    "guardian.UserObjectPermission": {},
    "guardian.GroupObjectPermission": {},
    # last_login changes on every sign-in, which the audit trail already records as auth.login.
    "accounts.User": {
        "exclude_fields": ["last_login"],
        "mask_fields": ["password"],
        "m2m_fields": {"groups", "user_permissions"},
    },
    "auth.Group": {"m2m_fields": {"permissions"}},
    "tenants.TenantSettings": {},
    "api.ApiKey": {"mask_fields": ["secret_hash"]},
}


def auditlog_models_register() -> list[str]:
    registered = []
    for label, options in TRACKED_MODELS.items():
        model = _installed_model(label)
        if model is None or auditlog.contains(model):
            continue
        auditlog.register(model, **options)
        registered.append(label)
    return registered


def _installed_model(label: str) -> Any:
    try:
        return apps.get_model(label)
    except LookupError:
        return None
