"""How settings read the environment: real variables, then `.env`, then the services file.

`make services` / `make test` write `var/<profile>/services.env` with the URLs of the loopback
services they started. Real environment variables always win, so pointing DATABASE_URL,
REDIS_URL or NEO4J_URI at external servers needs nothing else. Every secret can also come from
a file named by `<NAME>_FILE` (Docker and Kubernetes secrets).
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]
env = environ.Env()


MAIN_SHARD = "main"


def read_env_files(profile: str) -> None:
    """Load `.env` and then `var/<profile>/services.env`; neither overrides what is already set.

    A process of a further shard (PORTAL_SHARD=b) reads `var/<profile>/shards/b/services.env`
    first, so its own servers win over the main shard's; when neither that file nor the
    environment names its database, it refuses to start rather than serve from the main shard's.
    """
    shard = os.environ.get("PORTAL_SHARD", MAIN_SHARD)
    paths = [BASE_DIR / ".env", BASE_DIR / "var" / profile / "services.env"]
    if shard != MAIN_SHARD:
        shard_file = BASE_DIR / "var" / profile / "shards" / shard / "services.env"
        if not shard_file.exists() and "DATABASE_URL" not in os.environ:
            raise ImproperlyConfigured(
                f"PORTAL_SHARD={shard} but neither DATABASE_URL nor {shard_file} names its servers: "
                f"start them with `devservices.py up --profile {profile} --shards {shard}`."
            )
        paths.insert(1, shard_file)
    for path in paths:
        if path.exists():
            env.read_env(str(path), overwrite=False)


def secret(name: str, default: str | None = None) -> str:
    """A secret from `<NAME>_FILE` if that is set, else from `<NAME>`, else the default."""
    file_path = env.str(f"{name}_FILE", default="")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as error:
            raise ImproperlyConfigured(f"{name}_FILE points at {file_path!r}, which cannot be read: {error}") from error
    value = env.str(name, default=default)
    if value is None:
        raise ImproperlyConfigured(f"Set {name} (or {name}_FILE).")
    return value
