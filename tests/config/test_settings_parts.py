"""The shared settings are split by topic (config/settings/parts/); base.py gathers them all."""

from __future__ import annotations

import ast
from pathlib import Path

import config.settings.base as base
from config.settings.environment import BASE_DIR

PARTS = BASE_DIR / "config" / "settings" / "parts"


def defined_settings(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        names |= {target.id for target in targets if isinstance(target, ast.Name) and target.id.isupper()}
    return names


def test_every_setting_is_defined_in_one_part_only_so_the_import_order_of_base_does_not_matter():
    owners: dict[str, list[str]] = {}
    for path in sorted(PARTS.glob("*.py")):
        for name in defined_settings(path):
            owners.setdefault(name, []).append(path.stem)
    assert {name: parts for name, parts in owners.items() if len(parts) > 1} == {}
    assert not {name for name in owners if not hasattr(base, name)}, "every part is imported by base.py"
