"""The account a single sign-on lands in, made or brought up to date from the verified ID token.

Matching is by the provider's subject only, never by a name or an e-mail address a provider can
assert: the first sign-in links an account only when it has no link yet and was made by the
directory (SCIM) under that user name; a local account of the same name is refused, not taken
over (an administrator links it by hand if it is the same person).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from .directory import directory_groups_set
from .models import DirectoryIdentity, User


class SignInRefused(Exception):
    """The provider vouched for someone who may not sign in here; `reason` is shown and audited."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


@dataclass(frozen=True)
class VerifiedClaims:
    """What the verified ID token says about the person."""

    issuer: str
    subject: str
    username: str
    email: str
    first_name: str = ""
    last_name: str = ""
    # None: the token carries no group claim (memberships then stay as SCIM or an admin set them).
    groups: tuple[str, ...] | None = None


@dataclass
class SignInResult:
    user: User
    created: bool
    group_changes: dict[str, list[str]] = field(default_factory=dict)


@transaction.atomic
def directory_user_sign_in(claims: VerifiedClaims) -> SignInResult:
    identity = (
        DirectoryIdentity.objects.select_related("user")
        .select_for_update()
        .filter(oidc_issuer=claims.issuer, oidc_subject=claims.subject)
        .first()
    )
    created = False
    if identity is None:
        identity, created = _identity_for_first_sign_in(claims)
    user = identity.user
    if not user.is_active:
        raise SignInRefused("This account has been deactivated.", code="inactive")
    _profile_update(user, claims)
    changes = directory_groups_set(user, claims.groups) if claims.groups is not None else {}
    return SignInResult(user=user, created=created, group_changes=changes)


def _identity_for_first_sign_in(claims: VerifiedClaims) -> tuple[DirectoryIdentity, bool]:
    # Case-insensitively: "Admin" from the provider is refused next to a local "admin", not made
    # as a look-alike account (sixth attack pass).
    existing = User.objects.select_for_update().filter(username__iexact=claims.username).first()
    if existing is None:
        user = User(username=claims.username, email=claims.email)
        user.set_unusable_password()  # signs in through the provider only
        user.save()
        return DirectoryIdentity.objects.create(user=user, oidc_issuer=claims.issuer, oidc_subject=claims.subject), True
    identity = DirectoryIdentity.objects.select_for_update().filter(user=existing).first()
    # A provisioned account is linked only by the provider configured when SCIM made it (seventh
    # attack pass: after the issuer changed, a sign-in took over a provisioned colleague).
    foreign = identity is not None and identity.oidc_issuer not in ("", claims.issuer)
    if identity is None or identity.oidc_subject or not identity.provisioned_by_scim or foreign:
        raise SignInRefused(
            f'An account named "{claims.username}" already exists here and is not linked to your identity '
            "provider. Ask an administrator to link it.",
            code="account_not_linked",
        )
    identity.oidc_issuer, identity.oidc_subject = claims.issuer, claims.subject
    identity.save(update_fields=["oidc_issuer", "oidc_subject", "updated_at"])
    return identity, False


def _profile_update(user: User, claims: VerifiedClaims) -> None:
    wanted = {"email": claims.email, "first_name": claims.first_name[:150], "last_name": claims.last_name[:150]}
    changed = [name for name, value in wanted.items() if value and getattr(user, name) != value]
    for name in changed:
        setattr(user, name, wanted[name])
    if changed:
        user.save(update_fields=changed)
