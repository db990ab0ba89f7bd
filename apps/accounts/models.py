"""Users. Each tenant schema has its own users and groups; the public schema holds platform staff."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in to one tenant's portal (or platform staff in the public schema)."""

    # An integration's identity rather than a person's. Tenant administrators may mint API keys
    # acting as a service account (never as a colleague: that key would read the colleague's
    # history and use the colleague's rights on their own documents).
    is_service_account = models.BooleanField(
        default=False,
        help_text="An integration's identity, not a person: tenant administrators may create API keys acting as it.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class DirectoryIdentity(models.Model):
    """Links a user to the company's directory: the OpenID Connect subject they sign in as, and the
    id the SCIM client knows them by. A user without one is a local account (signs in by password)."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="directory_identity")
    # Empty until the first single sign-on (a SCIM-provisioned user who never signed in yet).
    oidc_issuer = models.CharField(max_length=500, blank=True)
    oidc_subject = models.CharField(max_length=255, blank=True)
    scim_external_id = models.CharField(max_length=255, blank=True)
    provisioned_by_scim = models.BooleanField(default=False)
    # Set by a SCIM DELETE: the account stays (its audit trail and history name it) but SCIM no longer sees it.
    scim_deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["oidc_issuer", "oidc_subject"],
                condition=~models.Q(oidc_subject=""),
                name="directory_identity_unique_subject",
            )
        ]

    def __str__(self) -> str:
        return f"directory identity of {self.user_id}"


class DirectoryGroup(models.Model):
    """Marks a group as the directory's: its members are set by SCIM or by the sign-in's group claim,
    never by hand (a hand-made change would be undone at the next sign-in)."""

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="directory_group")
    scim_external_id = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"directory group {self.group_id}"


class ScimToken(models.Model):
    """The bearer token a tenant's SCIM client (Okta, Entra ID, ...) presents. Only a SHA-256 of its
    secret is stored; the token is shown once, when made on the control plane."""

    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Made at the command line: the operator's, valid until revoked. Otherwise the token works only
    # while `created_by` is an active superuser; a deleted creator leaves it dead, not the operator's.
    created_by_operator = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"
