"""Writes on the API key registry. Call inside the key's tenant schema: audit entries go there.

Every change is audited in the same transaction as the change (invariant 5).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.roles import DEFAULT_GROUPS
from apps.audit.services import audit_event_record
from apps.directory.catalogue import DirectoryUnavailable, PlacementRefused
from apps.directory.services import tenant_routes_publish
from apps.documents.selectors import user_access_covers
from apps.tenants.models import Tenant

from .key_material import key_material_generate
from .models import ApiKey

logger = logging.getLogger(__name__)

# last_used_at is a hint for administrators, not a log: one write per key per minute at most.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class CreatedApiKey:
    key: ApiKey
    # The only time the full key exists outside the caller's hands: shown once, never stored.
    secret: str


def _validate_scopes(scopes: list[str], *, creator_scopes: frozenset[str] | None) -> list[str]:
    chosen = sorted(set(scopes))
    unknown = set(chosen) - set(ApiKey.Scope.values)
    if not chosen or unknown:
        raise ValidationError({"scopes": [f"choose one or more of {sorted(ApiKey.Scope.values)}"]})
    # A key may not mint a key stronger than itself.
    if creator_scopes is not None and not set(chosen) <= creator_scopes:
        raise ValidationError({"scopes": [f"a key with scopes {sorted(creator_scopes)} cannot grant {chosen}"]})
    return chosen


def _check_delegation(*, created_by: User, user: User) -> None:
    """A key acting as someone else never holds more than its creator: it may act as a service
    account only (a key acting as a colleague would read the colleague's question history and use
    the colleague's rights on their own documents), and that account may hold no superuser or staff
    status, no permission and no document its creator lacks. Superusers may delegate freely."""
    if created_by.pk == user.pk or created_by.is_superuser:
        return
    if not user.is_service_account:
        raise PermissionDenied(
            "you can create keys for yourself and for service accounts only; "
            "ask a superuser for a key acting as a person"
        )
    escalates = (
        user.is_superuser
        or (user.is_staff and not created_by.is_staff)
        or not _roles(user) <= _roles(created_by)
        or not user.get_all_permissions() <= created_by.get_all_permissions()
        or not user_access_covers(holder=created_by, other=user)
    )
    if escalates:
        raise PermissionDenied("you cannot create a key for a user who holds rights or documents you do not")


def _roles(user: User) -> set[str]:
    """The role groups (tenant administrator, compliance) a user is in: roles carry no model
    permissions of their own, so the permission comparison alone does not see them."""
    return set(user.groups.filter(name__in=DEFAULT_GROUPS).values_list("name", flat=True))


def api_key_delegation_check(*, key: ApiKey, user: User, created_by: User | None) -> None:
    """On every use of a key that acts as someone else: the delegation rule must still hold today.
    A key does not keep rights its creator has lost (deactivated, demoted, a document taken away),
    nor rights its user gained since (a document shared with the service account later), nor act as
    a person who stopped being a service account. Keys made at the command line (no creator) are
    the operator's."""
    if key.created_by_id is None or key.created_by_id == key.user_id:
        return
    if created_by is None:
        raise PermissionDenied("the user who created this key is no longer active; ask for a new key")
    _check_delegation(created_by=created_by, user=user)


@dataclass(frozen=True)
class CreatorLimits:
    """What the credential creating a key holds: a new key gets no more (no later expiry, no larger quota)."""

    scopes: frozenset[str] | None = None
    expires_at: datetime | None = None
    # The creating key's own quotas: a class it limits and the request leaves out is inherited.
    rate_limits: dict[str, dict[str, Any]] | None = None
    # The most any key may have on each route class (the tenant's whole bucket); the creating key's
    # own quotas lower it further.
    quota_ceiling: dict[str, dict[str, Any]] | None = None

    def expiry_capped(self, requested: datetime | None) -> datetime | None:
        if self.expires_at is None:
            return requested
        return self.expires_at if requested is None else min(requested, self.expires_at)

    def quotas_capped(self, requested: dict[str, Any] | None) -> dict[str, Any]:
        quotas = {**(self.rate_limits or {}), **(requested or {})}
        ceiling = {**(self.quota_ceiling or {}), **(self.rate_limits or {})}
        return {route_class: _bucket_capped(wanted, ceiling.get(route_class)) for route_class, wanted in quotas.items()}


def _bucket_capped(wanted: dict[str, Any], ceiling: dict[str, Any] | None) -> dict[str, Any]:
    if ceiling is None:
        return wanted
    return {field: min(wanted[field], ceiling[field]) for field in ("capacity", "refill_per_second")}


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    user: User,
    created_by: User,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    rate_limits: dict[str, Any] | None = None,
    creator_limits: CreatorLimits | None = None,
    request=None,
) -> CreatedApiKey:
    """A new key acting as `user`, holding no more than the credential making this call
    (`creator_limits`: its scopes, expiry and quotas; none for a session or the command line)."""
    limits = creator_limits or CreatorLimits()
    expires_at, rate_limits = limits.expiry_capped(expires_at), limits.quotas_capped(rate_limits)
    if not name.strip():
        raise ValidationError({"name": ["a name is required"]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": ["must be in the future"]})
    if not user.is_active:
        raise ValidationError({"user": ["the user is not active"]})
    _check_delegation(created_by=created_by, user=user)
    material = key_material_generate()
    key = ApiKey.objects.create(
        tenant=tenant,
        name=name.strip()[:200],
        prefix=material.prefix,
        secret_hash=material.secret_hash,
        scopes=_validate_scopes(scopes, creator_scopes=limits.scopes),
        user_id=user.pk,
        created_by_id=created_by.pk,
        expires_at=expires_at,
        rate_limits=rate_limits,
    )
    audit_event_record(
        action="api_key.create",
        actor=created_by,
        target=key,
        request=request,
        details={
            "name": key.name,
            "scopes": key.scopes,
            "user_id": key.user_id,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "rate_limits": key.rate_limits,
        },
    )
    transaction.on_commit(lambda: key_routes_publish(tenant=tenant))
    return CreatedApiKey(key=key, secret=material.full_key)


def key_routes_publish(*, tenant: Tenant) -> None:
    """Tell the directory (if any) which key prefixes lead to this tenant: its live keys'.

    A key the directory does not know yet still reaches its tenant on the tenant's host name; one
    the directory lost is refused by the shard like any unknown key. So a catalogue that cannot be
    reached only delays routing by key, and is logged."""
    prefixes = ApiKey.objects.filter(tenant=tenant, revoked_at__isnull=True).values_list("prefix", flat=True)
    try:
        tenant_routes_publish(schema_name=tenant.schema_name, kind="key", values=list(prefixes))
    except (PlacementRefused, DirectoryUnavailable) as refused:
        logger.warning("API key routes of tenant %s not published: %s", tenant.schema_name, refused)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: object, request=None, reason: str = "") -> ApiKey:
    """Revoke at once (the next request with it is refused). Revoking twice changes nothing.
    `actor` is a user or a label ("scim:Okta") when the key goes with its user's access."""
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.revoked_by_id = actor.pk if isinstance(actor, User) else None
    locked.save(update_fields=["revoked_at", "revoked_by_id"])
    details = {"name": locked.name, **({"reason": reason} if reason else {})}
    audit_event_record(action="api_key.revoke", actor=actor, target=locked, request=request, details=details)
    transaction.on_commit(lambda: key_routes_publish(tenant=locked.tenant))
    return locked


def api_keys_revoke_acting_as(*, user: User, actor: object) -> int:
    """Revoke every live key acting as the user (their access ended: apps.accounts.directory)."""
    schema = connection.schema_name  # type: ignore[attr-defined]
    live = ApiKey.objects.filter(tenant__schema_name=schema, user_id=user.pk, revoked_at__isnull=True)
    keys = list(live)
    for key in keys:
        api_key_revoke(key=key, actor=actor, reason="user access ended")
    return len(keys)


def revoke_keys_when_access_ends(sender: object, *, user: User, actor: object, **kwargs: Any) -> None:
    api_keys_revoke_acting_as(user=user, actor=actor)


def api_key_mark_used(*, key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    key.last_used_at = now
