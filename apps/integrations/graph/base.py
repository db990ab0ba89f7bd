"""The graph store interface: every call is scoped to one tenant, or refused."""

from __future__ import annotations

from typing import Any, Protocol

from apps.core.errors import TenantContextRequired

PUBLIC_SCHEMA = "public"


def require_tenant(tenant: str | None) -> str:
    """Fail closed: graph data always belongs to a tenant schema, never to none or to public."""
    if not tenant or not isinstance(tenant, str) or tenant == PUBLIC_SCHEMA:
        raise TenantContextRequired("graph store calls need a tenant schema name")
    return tenant


class GraphStore(Protocol):
    def verify_connectivity(self) -> None: ...

    def ensure_schema(self) -> None: ...

    def run_read(
        self, cypher: str, *, tenant: str, parameters: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def run_write(
        self, cypher: str, *, tenant: str, parameters: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...
