"""Tenant context fails closed: no schema, the public schema or an unknown one are refused."""

from __future__ import annotations

import pytest

from apps.core.errors import TenantContextRequired
from apps.tenants.context import (
    active_schema_name,
    current_tenant_schema,
    in_resolved_tenant,
    in_tenant,
    runs_in_tenant,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("schema_name", [None, "", "public", "no_such_tenant"])
def test_entering_a_missing_or_public_tenant_is_refused(schema_name, tenant_alpha):
    with pytest.raises(TenantContextRequired), in_tenant(schema_name):
        pass


def test_in_tenant_switches_and_restores_the_schema(tenant_alpha):
    assert active_schema_name() == "public"
    with in_tenant("alpha") as tenant:
        assert tenant.schema_name == "alpha"
        assert current_tenant_schema() == "alpha"
    assert active_schema_name() == "public"


def test_current_tenant_schema_refuses_outside_a_tenant(tenant_alpha):
    with pytest.raises(TenantContextRequired):
        current_tenant_schema()


def test_task_bodies_run_in_the_named_tenant_and_refuse_without_one(tenant_alpha, tenant_beta):
    @runs_in_tenant
    def count_admins(*, schema_name: str) -> tuple[str, int]:
        from apps.accounts.models import User

        return active_schema_name(), User.objects.filter(username="admin").count()

    assert count_admins(schema_name="beta") == ("beta", 1)
    with pytest.raises(TenantContextRequired):
        count_admins(schema_name=None)  # type: ignore[arg-type]


def test_inactive_tenant_is_refused(tenant_alpha):
    tenant_alpha.is_active = False
    tenant_alpha.save(update_fields=["is_active"])
    with pytest.raises(TenantContextRequired), in_tenant("alpha"):
        pass


@pytest.mark.parametrize("schema_name", [None, "", "public"])
def test_entering_a_resolved_tenant_refuses_a_missing_name_and_the_public_schema(schema_name, tenant_alpha):
    with pytest.raises(TenantContextRequired), in_resolved_tenant(schema_name):
        pass
    assert active_schema_name() == "public"


def test_a_resolved_tenant_is_entered_and_left_for_the_public_schema(tenant_alpha, django_assert_num_queries):
    with django_assert_num_queries(0), in_resolved_tenant("alpha"):  # no look-up of the tenant
        assert current_tenant_schema() == "alpha"
    assert active_schema_name() == "public"
