"""PATCH bodies (RFC 7644 section 3.5.2) as Okta and Entra ID send them: checked whole before any
operation is applied, so a malformed one changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import invalid_value

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OPERATIONS = ("add", "replace", "remove")
MAX_OPERATIONS = 1000


@dataclass(frozen=True)
class PatchOperation:
    op: str  # lower case: Entra ID writes "Replace"
    path: str
    value: Any


def patch_operations_parse(body: Any) -> list[PatchOperation]:
    if not isinstance(body, dict) or PATCH_SCHEMA not in (body.get("schemas") or []):
        raise invalid_value(f"a PATCH body names the schema {PATCH_SCHEMA}", "invalidSyntax")
    raw = body.get("Operations")
    if not isinstance(raw, list) or not raw or len(raw) > MAX_OPERATIONS:
        raise invalid_value(f"Operations must list 1 to {MAX_OPERATIONS} operations", "invalidSyntax")
    operations = []
    for item in raw:
        if not isinstance(item, dict):
            raise invalid_value("each operation is an object", "invalidSyntax")
        op = str(item.get("op", "")).lower()
        path = item.get("path") or ""
        if op not in OPERATIONS or not isinstance(path, str) or len(path) > 300:
            raise invalid_value(f"op must be one of {list(OPERATIONS)}, with a text path", "invalidSyntax")
        if op != "remove" and "value" not in item:
            raise invalid_value(f"{op} needs a value", "invalidValue")
        operations.append(PatchOperation(op=op, path=path.strip(), value=item.get("value")))
    return operations
