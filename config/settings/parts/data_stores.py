"""Tenancy (django-tenants) and the data stores: PostgreSQL, Redis, Neo4j and the graph store adapter."""

from __future__ import annotations

from ..environment import env, secret

# --- Tenancy (django-tenants; the app lists are in application.py) ------------------------------
TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
# Set the search_path once per connection and tenant switch, not before every cursor: it halved the
# queries of an ingestion batch. set_tenant/set_schema still reset it on every switch.
TENANT_LIMIT_SET_CALLS = True
# An unknown host is a 404, never the public site (fail closed).
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False

# --- Data stores -------------------------------------------------------------------------------
DATABASE_URL = secret("DATABASE_URL", default="")
DATABASES = {"default": env.db_url_config(DATABASE_URL) if DATABASE_URL else {}}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# What django-tenants wraps: Django's backend, failing fast while the pooled server refuses connections.
ORIGINAL_BACKEND = "apps.core.postgresql_backend"
DATABASES["default"].setdefault("OPTIONS", {})
# A probe or a request must never hang on an unreachable database.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The web process (`manage.py serve`) runs every request on a thread of its own, so a persistent
# connection would be opened per request and left behind with its thread: it takes connections
# from a pool instead (apps/core/database.py). Celery workers and commands keep long-lived threads
# and persistent connections. Turn it off behind an external pooler such as PgBouncer.
DATABASE_POOL = env.bool("DATABASE_POOL", default=True)
DATABASE_POOL_OPTIONS = {
    "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
    "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=24),
    # How long a request waits for a free connection before it fails with a database error (503).
    "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
}
# Before the pool waits for a new connection, the server's port is probed (once a second at most):
# refused or silent this long, requests fail at once with 503 instead of waiting out the pool.
DATABASE_REACHABILITY_TIMEOUT = env.float("DATABASE_REACHABILITY_TIMEOUT", default=1.0)
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = secret("REDIS_URL", default="")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=1.0)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
        },
    }
}
# Tenant by host, API key, user and groups, tenant settings: kept in each process's memory while
# a shared version in Redis is unchanged (apps.core.process_cache). The TTL bounds how long a
# change made behind the models' backs (raw SQL) can go unseen.
PROCESS_CACHE_TTL_SECONDS = env.float("PROCESS_CACHE_TTL_SECONDS", default=30.0)
PROCESS_CACHE_MAX_ENTRIES = env.int("PROCESS_CACHE_MAX_ENTRIES", default=10000)

NEO4J_URI = secret("NEO4J_URI", default="")
NEO4J_USER = env.str("NEO4J_USER", default="neo4j")
NEO4J_PASSWORD = secret("NEO4J_PASSWORD", default="")
NEO4J_DATABASE = env.str("NEO4J_DATABASE", default="neo4j")
NEO4J_CONNECTION_TIMEOUT = env.float("NEO4J_CONNECTION_TIMEOUT", default=3.0)
NEO4J_QUERY_TIMEOUT = env.float("NEO4J_QUERY_TIMEOUT", default=10.0)

# --- Graph store adapter (chosen by dotted path, like EMAIL_BACKEND) ----------------------------
GRAPH_STORE_BACKEND = env.str("GRAPH_STORE_BACKEND", default="apps.integrations.graph.neo4j_store.Neo4jGraphStore")

# PostgreSQL client tools (pg_dump, pg_restore, psql) for tenant backups; empty: the embedded
# server's (development and tests). Use tools at least as new as the server.
POSTGRES_BIN_DIR = env.str("POSTGRES_BIN_DIR", default="")
