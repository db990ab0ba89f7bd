"""The integration API (docs/api.md): REST framework, OpenAPI schema, JWT, rate limits."""

from __future__ import annotations

from ..environment import env, secret
from .data_stores import REDIS_URL

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # One error body everywhere: {"error": {"code", "message", "details"}}.
    "EXCEPTION_HANDLER": "apps.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Knowledge Portal API",
    "DESCRIPTION": "Grounded, cited answers from your company's documents. See docs/api.md.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets from the drf-spectacular-sidecar package, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"IngestionJobStatus": "apps.ingestion.models.IngestionJob.Status"},
}

# --- Integration API (docs/api.md) ---------------------------------------------------------------
# Views reach the answer and feedback services through these paths (tests and deployments swap them).
API_ANSWER_SERVICE = "apps.answers.services.answer_question"
API_FEEDBACK_SERVICE = "apps.feedback.services.feedback_submit"
API_INGEST_MAX_FILES = env.int("API_INGEST_MAX_FILES", default=20)
# JWT bearer tokens: public keys of every active signing key, by kid (RS256 or ES256 only), as JSON
# [{"kid": "2025-06", "algorithm": "RS256", "public_key_file": "/run/secrets/jwt-2025-06.pem"}]
# ("public_key" holds the PEM inline). Rotate by listing the new key next to the old one.
JWT_SIGNING_KEYS = env.json("JWT_SIGNING_KEYS", default=[])
JWT_AUDIENCE = env.str("JWT_AUDIENCE", default="knowledge-portal-api")
JWT_ISSUER = env.str("JWT_ISSUER", default="")  # checked when set
JWT_LEEWAY_SECONDS = env.int("JWT_LEEWAY_SECONDS", default=30)
# Rate limits (roadmap 5.1): token buckets in Redis, per route class. "principal" is each API key's
# (or, for session and JWT calls, each user's) bucket; tenants may change it in TenantSettings.rate_limits
# and keys carry their own. "tenant" is the ceiling of the whole tenant. The data plane fails open
# when Redis is down; the control plane fails closed (503).
API_RATE_LIMITER = {
    "BACKEND": "apps.core.ratelimit.RedisTokenBucket",
    "CLOCK": "time.time",
    "OPTIONS": {
        "redis_url": secret("API_RATE_LIMIT_REDIS_URL", default=REDIS_URL),
        "socket_timeout": env.float("API_RATE_LIMIT_REDIS_TIMEOUT", default=0.25),
        "key_prefix": "ratelimit",
    },
}
API_RATE_LIMITS = env.json(
    "API_RATE_LIMITS",
    default={
        "query": {
            "principal": {"capacity": 120, "refill_per_second": 2.0},
            "tenant": {"capacity": 3000, "refill_per_second": 200.0},
            "fail_open": True,
        },
        "ingest": {
            "principal": {"capacity": 60, "refill_per_second": 1.0},
            "tenant": {"capacity": 600, "refill_per_second": 10.0},
            "fail_open": True,
        },
        "admin": {
            "principal": {"capacity": 20, "refill_per_second": 0.2},
            "tenant": {"capacity": 100, "refill_per_second": 1.0},
            "fail_open": False,
        },
    },
)
