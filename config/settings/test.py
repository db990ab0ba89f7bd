"""Tests: the services `make test` starts on free ports (var/test/services.env)."""

import os

from .environment import read_env_files

# Several checkouts or helpers on one machine each start their own services under another profile.
read_env_files(os.environ.get("PORTAL_SERVICES_PROFILE", "test"))

from .base import *  # noqa: E402,F403
from .base import DATABASE_URL, NEO4J_URI, REDIS_URL  # noqa: E402
from .environment import env  # noqa: E402

if not (DATABASE_URL and REDIS_URL and NEO4J_URI):
    # Never let a test run (or skip) without the real services: say how to start them.
    raise RuntimeError(
        "Test services are not configured: run `make test`, or start them with "
        "`.venv/bin/python docker/embedded/devservices.py up --profile test`."
    )

# Metrics and logs say which environment produced them (roadmap 1.2); a .env never changes it here.
PORTAL_ENV = "test"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; never in production
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
LOGGING = {**LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}  # noqa: F405

# Parallel test runs on one machine (several checkouts, helpers) each get their own database.
DATABASES["default"]["TEST"] = {"NAME": env.str("PORTAL_TEST_DB_NAME", default="test_portal")}  # noqa: F405

# Static files as in production (hashed and compressed, served by WhiteNoise), collected once per
# test session (tests/conftest.py) into the profile's own folder.
STATIC_ROOT = BASE_DIR / "var" / os.environ.get("PORTAL_SERVICES_PROFILE", "test") / "static"  # noqa: F405

# Tasks run in-process unless a test starts a real worker (tests/support/celery_worker.py).
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # a live server sets it off
CELERY_TASK_EAGER_PROPAGATES = True
# The tracing tests add an in-memory exporter at run time and look for database spans.
OTEL_INSTRUMENT_CLIENTS = env.bool("OTEL_INSTRUMENT_CLIENTS", default=True)

# The loopback identity provider (docker/oidc-provider) and the tests' own fake ones speak plain http.
OIDC_REQUIRE_HTTPS_ISSUER = False
OIDC_CLIENT_SECRETS_DIR = str(BASE_DIR / "var" / os.environ.get("PORTAL_SERVICES_PROFILE", "test") / "oidc-secrets")  # noqa: F405
SHARD_SERVICES_DIR = str(BASE_DIR / "var" / os.environ.get("PORTAL_SERVICES_PROFILE", "test") / "shards")  # noqa: F405
# The test process's own tenants (in test_portal) are not the directory's: only the shard processes
# the shard tests start (tests/support/cells.py, with PORTAL_TEST_CELL=1) place tenants and publish routes.
if not env.bool("PORTAL_TEST_CELL", default=False):
    DIRECTORY_DATABASE_URL = ""
    DIRECTORY_HAPROXY_HOME = ""
