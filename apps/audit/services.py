"""Write audit events. Runs in the current schema, inside the caller's transaction.

The chain head row of the schema is locked for the rest of the caller's transaction, so concurrent
writers queue up behind each other and the chain never forks; if the caller's action rolls back,
its audit event rolls back with it (and the next writer reuses the sequence number).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from .chain import event_hash, json_normalised
from .middleware import current_request
from .models import GENESIS_HASH, AuditChainHead, AuditEvent

SYSTEM_ACTOR = "system"
_TYPED_LABEL = re.compile(r"^(?P<type>[a-z][a-z0-9_.]*):(?P<id>[^\s:]+)$")


@dataclass(frozen=True)
class AuditTarget:
    """A target described by hand, when the object is gone or is not a model instance."""

    type: str
    id: str = ""
    label: str = ""


# Objects whose names are or contain a person's name or words: the chain names them by id only.
# (A guardian user permission prints as "document | view_document | alice".)
PSEUDONYMOUS_TARGET_TYPES = frozenset(
    {
        "guardian.userobjectpermission",
        "answers.querylog",
        "answers.conversation",
        "feedback.feedback",
        "auditlog.logentry",
    }
)


def user_label(user_id: object) -> str:
    """How a person appears in the chain: a pseudonymous id that erasure never has to rewrite."""
    return f"user:{user_id}"


def target_label_for(target_type: str, target_id: object, name: str) -> str:
    if target_type == _user_type():
        return user_label(target_id)
    if target_type in PSEUDONYMOUS_TARGET_TYPES:
        return f"{target_type.split('.')[1]}:{target_id}"
    return name


def _user_type() -> str:
    meta = get_user_model()._meta
    return f"{meta.app_label}.{meta.model_name}"


def audit_event_record(
    *,
    action: str,
    actor: Any = None,
    target: object | str = "",  # a model instance, an AuditTarget or a label
    request: HttpRequest | None = None,
    details: dict | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
) -> AuditEvent:
    """Append one event to the current schema's chain.

    `actor` is a user, a label such as "system:retention", or None (then the signed-in user of the
    current request, if any). `target` is a model instance or a free label. `request` defaults to
    the current request (AuditContextMiddleware), for the IP address and user agent.
    """
    if not action or len(action) > 100:
        raise ValueError("an audit action is a dotted name of at most 100 characters")
    if outcome not in AuditEvent.Outcome.values:
        raise ValueError(f"outcome must be one of {AuditEvent.Outcome.values}")
    request = request if request is not None else current_request()
    actor_id, actor_label = _actor_fields(actor, request)
    target_type, target_id, target_label = _target_fields(target)
    event = AuditEvent(
        created_at=timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label[:200],
        tenant_schema=str(getattr(connection, "schema_name", "")),
        action=action,
        outcome=outcome,
        target_type=target_type[:100],
        target_id=target_id[:100],
        target_label=target_label[:300],
        ip=_client_ip(request),
        user_agent=_user_agent(request),
        details=json_normalised(details or {}),
    )
    with transaction.atomic():
        head = _locked_head()
        event.sequence = head.sequence + 1
        event.prev_hash = head.hash
        event.hash = event_hash(event)
        event.save(force_insert=True)
        AuditChainHead.objects.filter(pk=head.pk).update(
            sequence=event.sequence, hash=event.hash, updated_at=event.created_at
        )
    return event


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        # Migration 0003 creates the row; this only covers a schema restored without it.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO audit_auditchainhead (id, sequence, hash, updated_at) VALUES (1, 0, %s, now()) "
                "ON CONFLICT (id) DO NOTHING",
                [GENESIS_HASH],
            )
        head = AuditChainHead.objects.select_for_update().get(pk=1)
    return head


def _actor_fields(actor: Any, request: HttpRequest | None) -> tuple[int | None, str]:
    if actor is None and request is not None:
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
    if actor is None:
        return None, "anonymous" if request is not None else SYSTEM_ACTOR
    if isinstance(actor, str):
        return None, actor
    if isinstance(actor, get_user_model()):
        return actor.pk, user_label(actor.pk)
    return None, f"{type(actor).__name__.lower()}:{getattr(actor, 'pk', actor)}"


def _target_fields(target: object | str) -> tuple[str, str, str]:
    if isinstance(target, str):
        # "document:12", "api_key:ab12cd": a type and an id given as one label.
        typed = _TYPED_LABEL.match(target)
        return (typed["type"], typed["id"], target) if typed else ("", "", target)
    if isinstance(target, AuditTarget):
        return target.type, target.id, target.label
    if isinstance(target, models.Model):
        meta = target._meta
        target_type = f"{meta.app_label}.{meta.model_name}"
        if isinstance(target, get_user_model()):
            return target_type, str(target.pk), user_label(target.pk)
        return target_type, str(target.pk), target_label_for(target_type, target.pk, str(target))
    return type(target).__name__, "", str(target)


def _client_ip(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    raw = request.META.get("REMOTE_ADDR", "")
    if settings.AUDIT_TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        raw = forwarded.split(",")[0].strip() or raw
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return ""


def _user_agent(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("HTTP_USER_AGENT", ""))[:500]
