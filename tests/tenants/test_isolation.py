"""Invariant 1 at the data layer: nothing of one tenant is visible from another."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django_tenants.utils import schema_context

from apps.accounts.models import User

pytestmark = pytest.mark.django_db


def _create_alice(schema: str, email: str) -> User:
    with schema_context(schema):
        return User.objects.create_user(username="alice", email=email, password="correct horse battery")


def _sign_in_as_admin(client, schema: str) -> None:
    # Sessions and users live in the tenant's schema, so signing in happens inside it.
    with schema_context(schema):
        client.force_login(User.objects.get(username="admin"))


def test_same_username_in_two_tenants_are_different_people(tenant_alpha, tenant_beta):
    _create_alice("alpha", "alice@alpha.example.com")
    _create_alice("beta", "alice@beta.example.com")

    with schema_context("alpha"):
        assert User.objects.get(username="alice").email == "alice@alpha.example.com"
        assert not User.objects.filter(email__endswith="beta.example.com").exists()
    with schema_context("beta"):
        assert User.objects.get(username="alice").email == "alice@beta.example.com"
        assert not User.objects.filter(email__endswith="alpha.example.com").exists()


def test_groups_created_in_one_tenant_do_not_appear_in_the_other(tenant_alpha, tenant_beta):
    with schema_context("alpha"):
        Group.objects.create(name="Alpha finance")
    with schema_context("beta"):
        assert not Group.objects.filter(name="Alpha finance").exists()
        # Both tenants got the same default groups, each its own rows.
        assert set(Group.objects.values_list("name", flat=True)) == {"Employees", "Tenant admins", "Compliance"}


def test_unknown_host_is_404(client, tenant_alpha):
    response = client.get("/admin/login/", HTTP_HOST="nobody.localhost")
    assert response.status_code == 404


def test_a_deactivated_tenants_host_is_404_from_the_next_request_on(client, tenant_alpha):
    """The host's tenant was just served (so it sits in the process cache); deactivation counts at once."""
    assert client.get("/admin/login/", HTTP_HOST="alpha.localhost").status_code == 200
    tenant_alpha.is_active = False
    tenant_alpha.save(update_fields=["is_active"])

    assert client.get("/admin/login/", HTTP_HOST="alpha.localhost").status_code == 404


def test_tenant_admin_lists_only_its_own_users(client, tenant_alpha, tenant_beta):
    _create_alice("alpha", "alice@alpha.example.com")
    with schema_context("beta"):
        User.objects.create_user(username="only-in-beta", email="b@beta.example.com", password="x" * 16)
    _sign_in_as_admin(client, "alpha")

    response = client.get("/admin/accounts/user/", HTTP_HOST="alpha.localhost")

    assert response.status_code == 200
    page = response.content.decode()
    assert "alice" in page
    assert "only-in-beta" not in page


def test_a_session_from_one_tenant_is_not_valid_on_another(client, tenant_alpha, tenant_beta):
    _sign_in_as_admin(client, "alpha")  # the session row is written in alpha's schema

    own = client.get("/admin/", HTTP_HOST="alpha.localhost")
    other = client.get("/admin/", HTTP_HOST="beta.localhost")

    assert own.status_code == 200
    assert other.status_code == 302
    assert "/admin/login/" in other["Location"]


def test_tenants_are_not_administered_from_inside_a_tenant(client, tenant_alpha):
    _sign_in_as_admin(client, "alpha")

    response = client.get("/admin/tenants/tenant/", HTTP_HOST="alpha.localhost")

    assert response.status_code in (403, 404)


def test_health_probe_reveals_no_tenant(client, tenant_alpha, tenant_beta):
    response = client.get("/health/live", HTTP_HOST="alpha.localhost")
    assert response.status_code == 200
    assert b"alpha" not in response.content
    assert b"beta" not in response.content
