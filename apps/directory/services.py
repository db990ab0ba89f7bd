"""What a shard's own services tell the directory: the tenants it holds and the routes that lead to them.

Every function here is a no-op when no directory is configured (a one-shard deployment). With one,
a shard places a tenant on itself before creating it (so a schema name is never used on two
shards) and publishes its host names and live API key prefixes; the directory's proxy is reloaded
when this machine runs it (DIRECTORY_HAPROXY_HOME), otherwise `directory_sync --watch` picks the
change up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

from .catalogue import (
    DirectoryUnavailable,
    Placement,
    PlacementRefused,
    catalogue_ensure,
    directory_configured,
    routes_publish,
    routes_taken,
    routing_table,
    shards_list,
    tenant_place,
    tenant_unplace,
)
from .haproxy import directory_install

logger = logging.getLogger(__name__)


def this_shard() -> str:
    return str(settings.PORTAL_SHARD)


def tenant_place_here(*, schema_name: str, hosts: Iterable[str] = ()) -> Placement | None:
    """Place a tenant about to be created on this process's shard; PlacementRefused if it is
    elsewhere, or if one of its host names already leads to another tenant (checked first, so a
    refused tenant leaves nothing behind)."""
    if not directory_configured():
        return None
    catalogue_ensure()
    if taken := routes_taken(schema_name=schema_name, kind="host", values=hosts):
        raise PlacementRefused(f"host {taken[0][0]!r} already leads to tenant {taken[0][1]!r}.")
    return tenant_place(schema_name=schema_name, shard=this_shard())


def tenant_unplace_here(*, schema_name: str) -> None:
    """Forget a tenant deleted on this shard: its placement and routes, if this shard holds it."""
    if not directory_configured():
        return
    try:
        if tenant_unplace(schema_name=schema_name, shard=this_shard()):
            directory_sync_if_local()
    except (DirectoryUnavailable, OSError, RuntimeError) as error:
        # Its host then leads to this shard, which answers 404 for it: closed, not open.
        logger.warning("directory not told of a deleted tenant: %s", type(error).__name__)


def tenant_routes_publish(*, schema_name: str, kind: str, values: Iterable[str]) -> None:
    """Publish a tenant's host names (`host`) or live API key prefixes (`key`) as this shard's."""
    if not directory_configured():
        return
    routes_publish(schema_name=schema_name, shard=this_shard(), kind=kind, values=list(values))
    try:
        directory_sync_if_local()
    except (OSError, RuntimeError) as error:
        # The catalogue holds the route; `directory_sync --watch` installs it once the proxy answers.
        logger.warning("directory not reloaded after a route change: %s", type(error).__name__)


def directory_sync_if_local() -> bool:
    """Reload the directory's proxy when it runs on this machine (DIRECTORY_HAPROXY_HOME); whether it did."""
    if not settings.DIRECTORY_HAPROXY_HOME:
        return False
    directory_sync()
    return True


def directory_sync(*, home: Path | None = None) -> Path:
    """Install the catalogue's current routes in the directory's proxy."""
    return directory_install(routes=routing_table(), shards=shards_list(), home=home)
