"""The bearer tokens SCIM clients present: made on the control plane (shown once), stored as a
SHA-256 of the secret (as API keys are: apps/api/key_material.py), revoked at once."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from apps.accounts.models import ScimToken, User
from apps.audit.services import audit_event_record

from ..key_material import KEY_BODY, key_material_generate, key_material_parse, secret_matches

TOKEN_TAG = "scim"  # noqa: S105 - the public tag before the prefix, not a secret
TOKEN_PATTERN = re.compile(rf"^{TOKEN_TAG}{KEY_BODY}")


@dataclass(frozen=True)
class ScimClient:
    """Who calls /scim/v2/: the identity provider holding one of the tenant's tokens."""

    token: ScimToken
    is_authenticated: bool = True
    is_active: bool = True
    pk: None = None

    @property
    def audit_label(self) -> str:
        return f"scim:{self.token.name}"

    def __str__(self) -> str:
        return self.audit_label


def scim_token_creator_entitled(token: ScimToken) -> bool:
    """Whether the token's creator still may provision (checked on every use, as for API keys:
    sixth attack pass, a demoted and deprovisioned administrator's token brought her back). SCIM
    renames, re-addresses and deactivates accounts, so it is a superuser's power; tokens made at
    the command line (no creator) are the operator's."""
    if token.created_by_operator:
        return True
    if token.created_by_id is None:
        return False  # its creator was deleted (seventh attack pass: the token became the operator's)
    creator = User.objects.filter(pk=token.created_by_id).only("is_active", "is_superuser").first()
    return bool(creator and creator.is_active and creator.is_superuser)


def scim_tokens_revoke_made_by(sender: object, *, user: User, actor: object, **kwargs: object) -> None:
    """A `user_access_ended` receiver: the person's SCIM tokens go with their access."""
    for token in ScimToken.objects.filter(created_by=user, revoked_at__isnull=True):
        scim_token_revoke(token=token, actor=actor if isinstance(actor, User | str) else "system")


@transaction.atomic
def scim_token_create(*, name: str, actor: User | str) -> tuple[ScimToken, str]:
    """A new token for the tenant's SCIM client; the full token is returned only here. Only
    superusers (and the operator, `actor` a label) make them."""
    if isinstance(actor, User) and not (actor.is_active and actor.is_superuser):
        raise PermissionDenied("only superusers create SCIM tokens: SCIM can rename and deactivate accounts")
    material = key_material_generate()
    token = ScimToken.objects.create(
        name=name.strip()[:200] or "SCIM client",
        prefix=material.prefix,
        secret_hash=material.secret_hash,
        created_by=actor if isinstance(actor, User) else None,
        created_by_operator=not isinstance(actor, User),
    )
    audit_event_record(action="scim_token.create", actor=actor, target=token, details={"name": token.name})
    return token, material.presented_as(TOKEN_TAG)


@transaction.atomic
def scim_token_revoke(*, token: ScimToken, actor: User | str) -> ScimToken:
    locked = ScimToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_event_record(action="scim_token.revoke", actor=actor, target=locked, details={"name": locked.name})
    return locked


def scim_tokens_all() -> QuerySet[ScimToken]:
    return ScimToken.objects.order_by("-created_at")


class ScimTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer scim_...`, looked up in the schema of the host it came to: a token
    only ever opens its own tenant."""

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != b"bearer":
            return None
        material = key_material_parse(header[1].decode("ascii", "replace"), pattern=TOKEN_PATTERN)
        token = ScimToken.objects.filter(prefix=material.prefix).first() if material else None
        if (
            material is None
            or token is None
            or token.revoked_at is not None
            or not secret_matches(secret=material.secret, stored_digest=token.secret_hash)
        ):
            raise exceptions.AuthenticationFailed("The SCIM token is not valid for this tenant.")
        if not scim_token_creator_entitled(token):
            raise exceptions.AuthenticationFailed("The SCIM token's creator may no longer provision this tenant.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ScimToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return ScimClient(token=token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="scim"'
