"""Where the operator's commands reach a shard's own servers (list_shards, move_tenant; never a request or task).

This process's shard is its settings; another shard's DATABASE_URL and NEO4J_URI come from
`SHARD_<NAME>_DATABASE_URL` / `SHARD_<NAME>_NEO4J_URI`, else from the loopback profile's
`<SHARD_SERVICES_DIR>/<name>/services.env` (the main shard's from the profile's own services.env).
A shard named nowhere is an error, never a fallback to this process's servers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

MAIN_SHARD = "main"


class ShardUnreachable(Exception):
    """Nothing says where this shard's servers are."""


@dataclass(frozen=True)
class ShardServers:
    name: str
    database_url: str
    neo4j_uri: str
    redis_url: str

    def process_environment(self) -> dict[str, str]:
        """What a command started for this shard needs to be one of its processes (and no other's)."""
        return {
            "PORTAL_SHARD": self.name,
            "DATABASE_URL": self.database_url,
            "NEO4J_URI": self.neo4j_uri,
            "REDIS_URL": self.redis_url,
        }


def _env_file(path: Path) -> dict[str, str]:
    values = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                values[key.strip()] = value.strip()
    return values


def shard_servers(name: str) -> ShardServers:
    if name == settings.PORTAL_SHARD:
        return ShardServers(
            name=name, database_url=settings.DATABASE_URL, neo4j_uri=settings.NEO4J_URI, redis_url=settings.REDIS_URL
        )
    prefix = f"SHARD_{name.upper()}_"
    folder = Path(settings.SHARD_SERVICES_DIR)
    from_file = _env_file(folder.parent / "services.env" if name == MAIN_SHARD else folder / name / "services.env")
    database_url = os.environ.get(prefix + "DATABASE_URL") or from_file.get("DATABASE_URL", "")
    neo4j_uri = os.environ.get(prefix + "NEO4J_URI") or from_file.get("NEO4J_URI", "")
    redis_url = os.environ.get(prefix + "REDIS_URL") or from_file.get("REDIS_URL", "")
    if not database_url or not neo4j_uri or not redis_url:
        raise ShardUnreachable(
            f"Nothing names shard {name!r}'s servers: set {prefix}DATABASE_URL, {prefix}NEO4J_URI and "
            f"{prefix}REDIS_URL (or start it: devservices.py up --shards {name})."
        )
    return ShardServers(name=name, database_url=database_url, neo4j_uri=neo4j_uri, redis_url=redis_url)
