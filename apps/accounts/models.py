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
