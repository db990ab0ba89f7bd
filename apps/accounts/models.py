"""Users. Each tenant schema has its own users and groups; the public schema holds platform staff."""

from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """A person who signs in to one tenant's portal (or platform staff in the public schema)."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
