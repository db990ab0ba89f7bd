from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.accounts.roles import COMPLIANCE_GROUP

PASSWORD = "a long enough password"


def compliance_officer(schema: str, username: str = "officer") -> User:
    with schema_context(schema):
        user = User.objects.create_user(username=username, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=COMPLIANCE_GROUP))
        return user


@pytest.fixture
def officer_client(client, tenant_alpha):
    """A test client signed in on alpha's host as a member of the Compliance group (staff, no superuser)."""
    officer = compliance_officer("alpha")
    with schema_context("alpha"):
        client.force_login(officer)
    client.defaults["HTTP_HOST"] = "alpha.localhost"
    client.officer = officer
    return client


@pytest.fixture
def admin_client(client, tenant_alpha):
    with schema_context("alpha"):
        client.force_login(User.objects.get(username="admin"))
    client.defaults["HTTP_HOST"] = "alpha.localhost"
    return client
