"""Shards: which one this process serves, and where the directory's catalogue is (docs/operations.md, "Shards").

Every process serves exactly one shard, named by PORTAL_SHARD (`main` when unset): its DATABASE_URL,
REDIS_URL and NEO4J_URI are that shard's servers, and nothing in request, task or socket code ever
opens another's. The catalogue (DIRECTORY_DATABASE_URL) is read and written only by the directory's
commands and by this shard's own services publishing its tenants' routes; unset, there is no
directory and the deployment is one shard.
"""

from __future__ import annotations

from ..environment import BASE_DIR, MAIN_SHARD, env, secret

PORTAL_SHARD = env.str("PORTAL_SHARD", default=MAIN_SHARD)
# Every shard of the deployment, as devservices started them (the directory's commands list them).
PORTAL_SHARDS = env.list("PORTAL_SHARDS", default=[MAIN_SHARD])
DIRECTORY_DATABASE_URL = secret("DIRECTORY_DATABASE_URL", default="")
# The directory's HAProxy: where its configuration and maps are written, and its address.
DIRECTORY_HAPROXY_HOME = env.str("DIRECTORY_HAPROXY_HOME", default="")
DIRECTORY_URL = env.str("DIRECTORY_URL", default="")
# Where the loopback profiles keep each further shard's services.env (operator commands only:
# list_shards and move_tenant reach other shards' servers from there, or from SHARD_<NAME>_* variables).
SHARD_SERVICES_DIR = env.str("SHARD_SERVICES_DIR", default=str(BASE_DIR / "var" / "dev" / "shards"))
# move_tenant: where the export waits between the two shards (the source's dump, graph and public
# rows: as sensitive as a backup, removed when the move ends), how long the source may take to
# finish ingestion already running, and how long the source's copy stays after the switch when the
# directory runs elsewhere (its `directory_sync --watch` interval, with margin).
TENANT_MOVE_WORK_DIR = env.str("TENANT_MOVE_WORK_DIR", default=str(BASE_DIR / "var" / "moves"))
TENANT_MOVE_WAIT_SECONDS = env.float("TENANT_MOVE_WAIT_SECONDS", default=300.0)
TENANT_MOVE_SWITCH_GRACE_SECONDS = env.float("TENANT_MOVE_SWITCH_GRACE_SECONDS", default=10.0)
