"""`manage.py create_portal_tenant`: creates everything once, prints the password once, re-runs safely."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from apps.accounts.models import User
from apps.tenants.models import Domain, Tenant

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("create_portal_tenant", *args, stdout=out)
    return out.getvalue()


def test_creates_tenant_domain_groups_and_admin_then_is_idempotent(provisioned_tenants):
    first = run("gamma", "--domain", "gamma.localhost", "--admin-email", "it@gamma.example.com", "--name", "Gamma")
    password = re.search(r"password: (\S+)", first)
    assert password, first

    with schema_context("gamma"):
        admin = User.objects.get(username="admin")
        assert admin.check_password(password.group(1))
        assert admin.is_superuser
        assert admin.email == "it@gamma.example.com"
        assert set(Group.objects.values_list("name", flat=True)) == {"Employees", "Tenant admins", "Compliance"}
    assert Domain.objects.get(domain="gamma.localhost").tenant.schema_name == "gamma"

    second = run("gamma", "--domain", "gamma.localhost", "--admin-email", "it@gamma.example.com")
    assert "password unchanged" in second
    assert password.group(1) not in second
    assert Tenant.objects.filter(schema_name="gamma").count() == 1
    with schema_context("gamma"):
        assert User.objects.filter(username="admin").count() == 1
        assert User.objects.get(username="admin").check_password(password.group(1))


@pytest.mark.parametrize("schema", ["public", "Bad-Name", "1abc", "pg_catalog", "x"])
def test_invalid_schema_names_are_refused(schema, provisioned_tenants):
    with pytest.raises(CommandError):
        run(schema, "--domain", "whatever.localhost", "--admin-email", "a@example.com")
    assert not Domain.objects.filter(domain="whatever.localhost").exists()


def test_a_domain_of_another_tenant_is_refused(provisioned_tenants):
    with pytest.raises(CommandError, match="already belongs to tenant 'alpha'"):
        run("delta", "--domain", "alpha.localhost", "--admin-email", "a@example.com")
    assert not Tenant.objects.filter(schema_name="delta").exists()
