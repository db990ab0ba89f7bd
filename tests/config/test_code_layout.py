"""House rules of docs/architecture.md that import-linter cannot see: short files, and one door to
a tenant's schema (apps.tenants.context), so that no code switches schemas in a way that could
leave a connection in the wrong tenant."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400
SCHEMA_SWITCHES = {"set_tenant", "set_schema", "set_schema_to_public"}


def python_files(*folders: str) -> list[Path]:
    return [path for folder in folders for path in (ROOT / folder).rglob("*.py") if "migrations" not in path.parts]


def test_no_python_file_outside_migrations_is_over_400_lines():
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in python_files("apps", "config", "tests", "docker")
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }

    assert not too_long, too_long


def schema_switches(path: Path) -> list[int]:
    tree = ast.parse(path.read_text())
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SCHEMA_SWITCHES
    ]


def test_only_the_tenants_app_switches_a_connections_schema():
    tenants_app = ROOT / "apps" / "tenants"
    outside = {
        str(path.relative_to(ROOT)): lines
        for path in python_files("apps", "config")
        if tenants_app not in path.parents and (lines := schema_switches(path))
    }

    assert not outside, outside


def test_the_schema_switch_check_sees_a_switch(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from django.db import connection\n\nconnection.set_tenant(tenant)\n")

    assert schema_switches(sample) == [3]
