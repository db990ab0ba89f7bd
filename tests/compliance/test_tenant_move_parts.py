"""The parts of a tenant move that need no second shard: what is copied from the public schema, and
how two copies are compared."""

from __future__ import annotations

import pytest
from django.apps import apps

from apps.compliance.tenant_moves.orchestrator import fingerprints_compare
from apps.compliance.tenant_moves.public_rows import PUBLIC_MODELS, public_rows_digest, public_rows_export
from apps.tenants.models import Tenant


def test_every_public_model_that_belongs_to_a_tenant_moves_with_it():
    # A model with a foreign key to the tenant, outside the tenant's schema, that the move did not
    # copy would be lost on the target (and deleted with the source).
    owned = {
        model._meta.label
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if getattr(field, "many_to_one", False) or getattr(field, "one_to_one", False)
        if getattr(field, "related_model", None) is Tenant and field.concrete
    }
    assert owned == set(PUBLIC_MODELS)


@pytest.mark.django_db
def test_the_public_rows_digest_ignores_only_a_keys_last_use(tenant_alpha):
    export = public_rows_export(schema_name=tenant_alpha.schema_name)
    assert export["tenant"]["schema_name"] == tenant_alpha.schema_name
    assert export["rows"]["tenants.Domain"], "the tenant's host name is part of what moves"
    digest = public_rows_digest(export)
    for entries in export["rows"].values():
        for entry in entries:
            if entry["model"] == "api.apikey":
                entry["fields"]["last_used_at"] = "2030-01-01T00:00:00Z"
    assert public_rows_digest(export) == digest
    export["rows"]["tenants.Domain"][0]["fields"]["domain"] = "elsewhere.example"
    assert public_rows_digest(export) != digest


def test_copies_compare_table_by_table():
    same = {"tables": {"a": [2, "x"], "b": [0, ""]}, "sequences": {"s": 2}, "public": "d", "graph": {"nodes:Chunk": 3}}
    assert fingerprints_compare(same, dict(same)) == []
    fewer_rows = {**same, "tables": {"a": [1, "y"], "b": [0, ""]}}
    assert fingerprints_compare(same, fewer_rows) == ["table a: [2, 'x'] != [1, 'y']"]
    missing_table = {**same, "tables": {"a": [2, "x"]}}
    assert fingerprints_compare(same, missing_table) == ["table b: [0, ''] != None"]
    assert fingerprints_compare(same, {**same, "graph": {"nodes:Chunk": 2}}) == ["graph differs"]
