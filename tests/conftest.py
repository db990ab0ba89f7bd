"""Fixtures shared by the whole suite: two tenants with look-alike data, and helpers to enter them.

The tenants are created once per session (creating a schema runs its migrations); every test then
runs inside a transaction that is rolled back, so tenants persist while test data does not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from apps.retrieval.runner import leg_connections_close
from apps.tenants.context import reset_to_public_schema
from apps.tenants.encryption.keys import data_keys_forget
from apps.tenants.models import Tenant
from apps.tenants.services import ProvisionedTenant, portal_tenant_provision, public_tenant_ensure

TENANT_SCHEMAS = ("alpha", "beta")


@pytest.fixture(scope="session")
def django_db_setup(
    request, django_test_environment, django_db_blocker, django_db_keepdb, django_db_modify_db_settings
):
    """Always create the test database, not only when a collected test asks for `db`.

    Tests whose data must be visible to other threads or processes (retrieval legs, real workers)
    commit it in their own tenant instead of using `db`, and still need the database to exist.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            keepdb=django_db_keepdb,
            aliases={"default": True},
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(config, verbosity=request.config.option.verbose)


@pytest.fixture(scope="session", autouse=True)
def _static_files_collected() -> None:
    """Pages link hashed asset names from the collectstatic manifest, as in production."""
    from django.core.management import call_command

    call_command("collectstatic", "--noinput", verbosity=0)


@pytest.fixture(scope="session")
def provisioned_tenants(django_db_setup, django_db_blocker) -> dict[str, ProvisionedTenant]:
    with django_db_blocker.unblock():
        public_tenant_ensure(domain="testserver")
        return {
            schema: portal_tenant_provision(
                schema_name=schema,
                domain=f"{schema}.localhost",
                admin_email=f"admin@{schema}.example.com",
                name=schema.title(),
            )
            for schema in TENANT_SCHEMAS
        }


@pytest.fixture
def tenant_alpha(provisioned_tenants, db) -> Tenant:
    return provisioned_tenants["alpha"].tenant


@pytest.fixture
def tenant_beta(provisioned_tenants, db) -> Tenant:
    return provisioned_tenants["beta"].tenant


@pytest.fixture(autouse=True)
def _reset_schema_after_test() -> Iterator[None]:
    yield
    reset_to_public_schema()
    # A test's rolled-back transaction may have made or destroyed data keys this process remembers.
    data_keys_forget()


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Redis outlives a test: start each one with no cached embeddings, retrievals or answers, and
    no rows in this process's memory (apps.core.process_cache)."""
    from django.core.cache import cache

    from apps.core.process_cache import process_cache_clear
    from apps.retrieval.legs.keyword import postings_cache

    cache.clear()
    process_cache_clear()
    postings_cache().clear()  # test schemas are reused after rollbacks: their index versions repeat


@pytest.fixture
def in_alpha(tenant_alpha) -> Iterator[Tenant]:
    with schema_context(tenant_alpha.schema_name):
        yield tenant_alpha


@pytest.fixture
def in_beta(tenant_beta) -> Iterator[Tenant]:
    with schema_context(tenant_beta.schema_name):
        yield tenant_beta


@pytest.fixture
def committed_db(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Database access without a wrapping transaction: what the test writes is really committed,
    so worker processes and retrieval threads see it. Use with tests.support.committed."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def deployment_connections(settings) -> Iterator[None]:
    """Connections kept open as the shared settings keep them (the test settings close them after use, which
    would charge a connect to every retrieval leg); the legs' connections are closed afterwards so the
    test database can be dropped."""
    database = settings.DATABASES["default"]
    previous = database["CONN_MAX_AGE"]
    database["CONN_MAX_AGE"] = 60
    try:
        yield
    finally:
        leg_connections_close()
        database["CONN_MAX_AGE"] = previous
