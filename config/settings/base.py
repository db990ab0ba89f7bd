"""Settings shared by every environment. Environment-specific modules import this last-minute.

Read the environment through `env` / `secret` only (see environment.py).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from celery.schedules import crontab

from .environment import BASE_DIR, env, secret

PORTAL_ENV = env.str("PORTAL_ENV", default="local")
DEBUG = env.bool("DEBUG", default=False)
# The insecure default only exists so development starts without configuration;
# production.py refuses to start with it.
INSECURE_DEFAULT_SECRET_KEY = "insecure-development-key-change-me"  # noqa: S105 - refused in production
SECRET_KEY = secret("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[".localhost", "localhost", "127.0.0.1"])

# --- Applications -----------------------------------------------------------------------------
# django-tenants: SHARED_APPS live in the public schema (tenants, domains, platform staff);
# TENANT_APPS are created again in every tenant schema (users, groups, documents, ...).
SHARED_APPS = [
    "django_tenants",
    "daphne",
    "apps.core",
    "apps.tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "apps.accounts",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    # Audit trail in every schema, public included (platform staff actions are audited too).
    "auditlog",
    "apps.audit",
    "django_celery_results",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    # The API key registry is public: a key names its tenant, so no tenant host is needed to route it.
    "apps.api",
    "corsheaders",
    # Failed sign-ins and lockouts, per schema (platform staff sign in on the public host).
    "axes",
    "django_prometheus",
    "channels",
    "apps.health",
    "apps.webserver",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "apps.accounts",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "auditlog",
    "apps.audit",
    "guardian",
    "axes",
    "apps.documents",
    "apps.ingestion",
    "apps.retrieval",
    "apps.answers",
    "apps.feedback",
    "apps.compliance",
    "apps.portal",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

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

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user name before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No guardian "AnonymousUser" row: anonymous visitors hold no permissions at all.
ANONYMOUS_USER_NAME = None

MIDDLEWARE = [
    # Every request gets an id (X-Request-ID) that its log lines and Celery tasks carry.
    "apps.core.observability.middleware.RequestIdMiddleware",
    # Hot rows (tenant by host, API key, user, tenant settings) are read once per request and may
    # come from this process's memory from here on.
    "apps.core.middleware.ProcessCacheScopeMiddleware",
    # Probes and /metrics answer on any Host header, before host validation and tenant resolution.
    "apps.health.middleware.HealthProbeMiddleware",
    # Static files (collected, hashed, compressed) on every host, before tenant resolution: they
    # are the same for everyone and hold nothing of a tenant. A CDN may sit in front; none is needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "apps.tenants.middleware.TenantByHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # After authentication: actor, IP and user agent for audit events and auditlog entries.
    # Synchronous only, which is fine: config.asgi runs the whole chain synchronously on the
    # request's thread.
    "apps.audit.middleware.AuditContextMiddleware",
    # Last: turns a lockout raised while signing in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# --- Sign-in throttling (django-axes) ----------------------------------------------------------
# A user name is locked after AXES_FAILURE_LIMIT wrong passwords in a row, from any address, for
# AXES_COOLOFF_TIME; a lockout is an `auth.lockout` audit event and the lockout page answers 429.
# Per user name rather than per address: guessing one account's password from many addresses is
# the attack that matters; the cost is that a stranger can lock a known name for the cool-off.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes warns that a lockout without the address can be dodged by changing user agent or cookies;
# a lockout by user name is not (they are not parameters of it), and one by address would lock
# out a whole office behind one NAT.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
AXES_VERBOSE = False
# The address recorded with an attempt is REMOTE_ADDR (the proxy's job to set), never a header a
# client controls (no django-ipware).

# --- Content-Security-Policy (django-csp) -------------------------------------------------------
# Pages load their own script and stylesheet only (no inline script or style; data sits in
# json_script blocks); the answer socket is same-origin; nothing may frame the portal.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

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

# --- Adapters to outside systems (chosen by dotted path, like EMAIL_BACKEND) --------------------
GRAPH_STORE_BACKEND = env.str("GRAPH_STORE_BACKEND", default="apps.integrations.graph.neo4j_store.Neo4jGraphStore")

# --- Ingestion ----------------------------------------------------------------------------------
INGESTION_MAX_UPLOAD_BYTES = env.int("INGESTION_MAX_UPLOAD_BYTES", default=50 * 1024 * 1024)
# Request bodies, bounded by the web server before a byte is read (apps/webserver/request_limits.py):
# any request, as Django's own limit for non-file data; an upload route from a client that sends
# credentials (two files at the largest size, or many smaller ones, per request).
REQUEST_MAX_BODY_BYTES = env.int("REQUEST_MAX_BODY_BYTES", default=2_621_440)  # Django's DATA_UPLOAD_MAX_MEMORY_SIZE
REQUEST_MAX_UPLOAD_BYTES = env.int("REQUEST_MAX_UPLOAD_BYTES", default=2 * INGESTION_MAX_UPLOAD_BYTES + 1024 * 1024)
# Passages indexed per document at most (about 2,500 pages of prose); the rest is left out with a
# warning on the job, so one file cannot flood a tenant's index.
INGESTION_MAX_CHUNKS_PER_DOCUMENT = env.int("INGESTION_MAX_CHUNKS_PER_DOCUMENT", default=10_000)
# Characters of a document's text chunked at most (about 2,500 pages of prose); keeps a worker's
# memory under 1 GB on any accepted file. The rest is left out with the same warning.
INGESTION_MAX_TEXT_CHARS = env.int("INGESTION_MAX_TEXT_CHARS", default=8_000_000)
# Archives (DOCX) are refused when they would expand past this, or by more than the ratio (zip bombs).
INGESTION_MAX_UNCOMPRESSED_BYTES = env.int("INGESTION_MAX_UNCOMPRESSED_BYTES", default=200 * 1024 * 1024)
INGESTION_MAX_COMPRESSION_RATIO = env.int("INGESTION_MAX_COMPRESSION_RATIO", default=100)
INGESTION_MAX_PDF_PAGES = env.int("INGESTION_MAX_PDF_PAGES", default=2000)
# Rows of a table (CSV) and values of a JSON document indexed per file; the rest is left out and the
# job says so ("Indexed with a warning: ...").
INGESTION_MAX_TABLE_ROWS = env.int("INGESTION_MAX_TABLE_ROWS", default=100_000)
INGESTION_MAX_JSON_VALUES = env.int("INGESTION_MAX_JSON_VALUES", default=100_000)
CHUNK_MAX_TOKENS = env.int("CHUNK_MAX_TOKENS", default=256)
CHUNK_OVERLAP_TOKENS = env.int("CHUNK_OVERLAP_TOKENS", default=32)
# Jobs handled by one Celery task: documents are embedded together, so batches stay full.
INGESTION_JOBS_PER_TASK = env.int("INGESTION_JOBS_PER_TASK", default=128)
# Dotted paths of callables (ChunkDraft -> ChunkDraft) applied before anything is stored (PII policy).
INGESTION_TEXT_FILTERS: list[str] = []
INGESTION_MAX_ATTEMPTS = env.int("INGESTION_MAX_ATTEMPTS", default=5)
# Reconciliation (apps/ingestion/reconcile.py, every minute): an unfinished job silent this long is
# requeued; a document whose graph sync is still pending this long after indexing is sent again.
INGESTION_STALE_AFTER_SECONDS = env.int("INGESTION_STALE_AFTER_SECONDS", default=180)
GRAPH_STALE_AFTER_SECONDS = env.int("GRAPH_STALE_AFTER_SECONDS", default=900)
INGESTION_RETRY_BACKOFF_SECONDS = env.float("INGESTION_RETRY_BACKOFF_SECONDS", default=2.0)
INGESTION_RETRY_BACKOFF_MAX_SECONDS = env.float("INGESTION_RETRY_BACKOFF_MAX_SECONDS", default=120.0)

# --- Embeddings ---------------------------------------------------------------------------------
EMBEDDER_BACKEND = env.str("EMBEDDER_BACKEND", default="apps.integrations.embeddings.onnx_minilm.OnnxMiniLMEmbedder")
EMBEDDING_DIMENSIONS = 384
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", default=32)
# Padded tokens per ONNX run: long chunks go in small batches (faster and far less memory on CPU).
EMBEDDING_BATCH_TOKENS = env.int("EMBEDDING_BATCH_TOKENS", default=512)
EMBEDDING_MAX_TOKENS = env.int("EMBEDDING_MAX_TOKENS", default=256)
EMBEDDING_THREADS = env.int("EMBEDDING_THREADS", default=0)  # 0: onnxruntime decides
EMBEDDING_CACHE_TTL_SECONDS = env.int("EMBEDDING_CACHE_TTL_SECONDS", default=24 * 3600)
# OpenAI-compatible remote embedder (EMBEDDER_BACKEND=apps.integrations.embeddings.remote.OpenAICompatibleEmbedder).
REMOTE_EMBEDDINGS_URL = env.str("REMOTE_EMBEDDINGS_URL", default="")
REMOTE_EMBEDDINGS_API_KEY = secret("REMOTE_EMBEDDINGS_API_KEY", default="")
REMOTE_EMBEDDINGS_MODEL = env.str("REMOTE_EMBEDDINGS_MODEL", default="text-embedding-3-small")
REMOTE_EMBEDDINGS_TIMEOUT = env.float("REMOTE_EMBEDDINGS_TIMEOUT", default=30.0)
# Ask for EMBEDDING_DIMENSIONS-long vectors (text-embedding-3-* would otherwise return 1536).
REMOTE_EMBEDDINGS_SEND_DIMENSIONS = env.bool("REMOTE_EMBEDDINGS_SEND_DIMENSIONS", default=True)

# --- Knowledge graph extraction -----------------------------------------------------------------
ENTITY_EXTRACTOR_BACKEND = env.str("ENTITY_EXTRACTOR_BACKEND", default="")  # empty: LLM if a key is set, else offline
ENTITY_MAX_PER_CHUNK = env.int("ENTITY_MAX_PER_CHUNK", default=12)
# Co-occurrence edges join only a chunk's strongest entities (edges grow with the square).
GRAPH_RELATED_MAX_ENTITIES = env.int("GRAPH_RELATED_MAX_ENTITIES", default=6)

# --- Retrieval ----------------------------------------------------------------------------------
RETRIEVAL_LEGS = {
    "dense": env.str("RETRIEVAL_DENSE_LEG", default="apps.retrieval.legs.dense.PgvectorDenseLeg"),
    "keyword": env.str("RETRIEVAL_KEYWORD_LEG", default="apps.retrieval.legs.keyword.PostgresBM25Leg"),
    "graph": env.str("RETRIEVAL_GRAPH_LEG", default="apps.retrieval.legs.graph.Neo4jGraphLeg"),
}
RETRIEVAL_DEFAULT_LEGS = ["dense", "keyword", "graph"]
# Weighted RRF. Plain RRF (k=60, equal weights) let a weak leg outvote a strong one: on MuSiQue it
# was worse than dense alone. A small k lets each leg's top ranks dominate, and keyword and graph
# count half as much as dense. Chosen once, globally, on the two development sets (docs/retrieval.md).
RETRIEVAL_LEG_WEIGHTS = {"dense": 1.0, "keyword": 0.5, "graph": 0.5}
RETRIEVAL_RRF_K = env.float("RETRIEVAL_RRF_K", default=5.0)
RETRIEVAL_CANDIDATES_PER_LEG = env.int("RETRIEVAL_CANDIDATES_PER_LEG", default=50)
RETRIEVAL_LEG_TIMEOUT_SECONDS = env.float("RETRIEVAL_LEG_TIMEOUT_SECONDS", default=2.0)
RETRIEVAL_THREADS = env.int("RETRIEVAL_THREADS", default=12)
RETRIEVAL_HNSW_EF_SEARCH = env.int("RETRIEVAL_HNSW_EF_SEARCH", default=100)
# How many index tuples one iterative HNSW scan may visit before it gives up (pgvector's default);
# a scan that returns fewer than k rows is repeated exactly (apps/retrieval/legs/dense.py).
RETRIEVAL_HNSW_MAX_SCAN_TUPLES = env.int("RETRIEVAL_HNSW_MAX_SCAN_TUPLES", default=20_000)
RETRIEVAL_RERANKER = env.str("RETRIEVAL_RERANKER", default="")  # dotted path: (query, candidates) -> candidates
RETRIEVAL_CACHE_TTL_SECONDS = env.int("RETRIEVAL_CACHE_TTL_SECONDS", default=3600)
RESPONSE_CACHE_TTL_SECONDS = env.int("RESPONSE_CACHE_TTL_SECONDS", default=1800)
# A result or answer missing a retrieval leg (timed out under load, store down) or written by a
# fallback provider is kept this briefly: long enough to spare a busy system the same work again,
# short enough that the full answer returns soon after the pressure or the outage ends.
DEGRADED_CACHE_TTL_SECONDS = env.int("DEGRADED_CACHE_TTL_SECONDS", default=60)
GRAPH_LEG_FANOUT = env.int("GRAPH_LEG_FANOUT", default=25)  # neighbours walked per linked entity
GRAPH_LEG_MAX_NEIGHBOUR_DEGREE = env.int("GRAPH_LEG_MAX_NEIGHBOUR_DEGREE", default=50)  # skip hub entities
GRAPH_LEG_SECOND_HOP_DISCOUNT = env.float("GRAPH_LEG_SECOND_HOP_DISCOUNT", default=0.5)
GRAPH_LEG_PARTIAL_LINK_WEIGHT = env.float("GRAPH_LEG_PARTIAL_LINK_WEIGHT", default=0.5)  # partial vs exact link
GRAPH_LEG_MAX_SEEDS = env.int("GRAPH_LEG_MAX_SEEDS", default=12)  # linked entities walked per question
GRAPH_LEG_MAX_SEED_DEGREE = env.int("GRAPH_LEG_MAX_SEED_DEGREE", default=500)  # skip linked hub entities
GRAPH_LEG_MAX_SEED_RELATIONS = env.int("GRAPH_LEG_MAX_SEED_RELATIONS", default=1000)  # no second hop from hubs
GRAPH_LEG_PARTIAL_LINKS_PER_ENTITY = env.int("GRAPH_LEG_PARTIAL_LINKS_PER_ENTITY", default=5)
BM25_K1 = env.float("BM25_K1", default=1.2)
BM25_B = env.float("BM25_B", default=0.75)
# Postings each process keeps in memory for the keyword leg (14 bytes each; apps/retrieval/legs/keyword.py).
BM25_POSTINGS_CACHE_MAX_POSTINGS = env.int("BM25_POSTINGS_CACHE_MAX_POSTINGS", default=2_000_000)

# --- LLM ----------------------------------------------------------------------------------------
ANTHROPIC_API_KEY = secret("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="")  # tests point this at a local fake server
ANTHROPIC_MODEL = env.str("ANTHROPIC_MODEL", default="claude-sonnet-4-6")
ANTHROPIC_TIMEOUT = env.float("ANTHROPIC_TIMEOUT", default=30.0)
# Answer providers by name; the model router (apps/answers/router/) tries them in the tenant's order.
# MAX_CONCURRENCY: calls in flight per process; TIMEOUT caps the request's own timeout (seconds);
# METERED: counts against the tenant's daily token budget (the offline extractive provider costs nothing).
# SPECULATIVE: the request is sent while the evidence is still being judged, which hides that check
# behind the model's time to first token; a question then refused still costs its prompt's input tokens.
# JUDGES_EVIDENCE: evidence in the borderline band (apps/answers/evidence/model.json) goes to this model,
# which answers from it or says the passages do not answer (recorded as a refusal, reason model_refused).
LLM_PROVIDERS = {
    "anthropic": {
        "BACKEND": "apps.integrations.llm.anthropic_provider.AnthropicProvider",
        "MODEL": ANTHROPIC_MODEL,
        "MAX_CONCURRENCY": env.int("ANTHROPIC_MAX_CONCURRENCY", default=8),
        "TIMEOUT": ANTHROPIC_TIMEOUT,
        "METERED": True,
        "SPECULATIVE": env.bool("ANTHROPIC_SPECULATIVE", default=True),
        "JUDGES_EVIDENCE": env.bool("ANTHROPIC_JUDGES_EVIDENCE", default=True),
    },
    "extractive": {
        "BACKEND": "apps.answers.providers.extractive.ExtractiveProvider",
        "MODEL": "extractive",
        "MAX_CONCURRENCY": env.int("EXTRACTIVE_MAX_CONCURRENCY", default=32),
        "TIMEOUT": 30.0,
        "METERED": False,
    },
}
LLM_DEFAULT_ORDER = env.list(
    "LLM_DEFAULT_ORDER", default=["anthropic", "extractive"] if ANTHROPIC_API_KEY else ["extractive"]
)
# How long a call waits for a free provider slot before falling back to the next provider.
LLM_CONCURRENCY_WAIT_SECONDS = env.float("LLM_CONCURRENCY_WAIT_SECONDS", default=0.25)
ANSWER_MAX_TOKENS = env.int("ANSWER_MAX_TOKENS", default=1024)
# Dotted paths of content filter hooks, called as hook(text=..., stage=...) -> FilterVerdict | None
# (apps/answers/safety/content_filter.py); stages "question", "passage", "answer".
ANSWER_CONTENT_FILTERS: list[str] = []
# Terms the built-in BlockedTermsFilter refuses (add "apps.answers.safety.content_filter.BlockedTermsFilter" above).
ANSWER_BLOCKED_TERMS: list[str] = env.list("ANSWER_BLOCKED_TERMS", default=[])
# Regions whose local phone formats (no +country code) the PII redactor recognises.
PII_PHONE_REGIONS = env.list("PII_PHONE_REGIONS", default=["US", "GB", "DE"])

# --- Answers (docs/answers.md) ------------------------------------------------------------------
# The whole question, and each step, is bounded; past either the answer stops with QueryTimeoutError.
ANSWER_TIMEOUT_SECONDS = env.float("ANSWER_TIMEOUT_SECONDS", default=30.0)
ANSWER_STEP_BUDGETS_SECONDS = {
    "contextualizer": 1.0,
    "planner": 1.0,
    "retriever": 8.0,
    "synthesizer": 25.0,  # includes the provider's stream
    "verifier": 3.0,
    "critic": 1.0,
    "citation": 1.0,
    "formatter": 1.0,
}
ANSWER_MAX_QUESTION_CHARS = env.int("ANSWER_MAX_QUESTION_CHARS", default=2000)
ANSWER_RETRIEVAL_K = env.int("ANSWER_RETRIEVAL_K", default=8)  # chunks retrieved per question
ANSWER_MAX_K = 50
ANSWER_MAX_PASSAGES = env.int("ANSWER_MAX_PASSAGES", default=6)  # passages the answer may cite
# Evidence sufficiency (apps/answers/evidence/sufficiency.py): below this confidence the answer is a
# refusal. Unset: the threshold fitted with the model (apps/answers/evidence/model.json).
ANSWER_EVIDENCE_MIN_CONFIDENCE: float | None = env.float("ANSWER_EVIDENCE_MIN_CONFIDENCE", default=None)
# Verifier: a cited passage supports a sentence holding this share of its terms, or (paraphrase) one of
# its sentences this close in embedding space.
ANSWER_SUPPORT_MIN_TERM_OVERLAP = 0.6
ANSWER_SUPPORT_MIN_SIMILARITY = 0.65
# Critic: below this share of the question's terms covered, the answer gets a "may not cover" note.
ANSWER_MIN_COVERAGE = 0.34

# --- Audit, retention, compliance (docs/compliance.md) -----------------------------------------
# Behind a trusted reverse proxy that sets X-Forwarded-For, record its first address as the client IP.
AUDIT_TRUST_X_FORWARDED_FOR = env.bool("AUDIT_TRUST_X_FORWARDED_FOR", default=False)
# Where expired audit segments are archived before they are purged (any Django storage backend,
# e.g. storages.backends.s3.S3Storage with its OPTIONS).
AUDIT_ARCHIVE_STORAGE = {
    "BACKEND": env.str("AUDIT_ARCHIVE_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"),
    "OPTIONS": {"location": env.str("AUDIT_ARCHIVE_DIR", default=str(BASE_DIR / "var" / "audit-archive"))},
}
# django-auditlog: JSON change lists (which models it tracks: apps/audit/registry.py).
AUDITLOG_STORE_JSON_CHANGES = True

# --- Health -------------------------------------------------------------------------------------
# Critical dependencies make /health/ready 503 and stop a production start; optional ones only
# mark the portal degraded (answers still work without cache or graph).
HEALTH_CRITICAL_CHECKS = ["postgres"]
HEALTH_OPTIONAL_CHECKS = ["redis", "neo4j"]
# Graceful shutdown of the web process (`manage.py serve`): on SIGTERM readiness turns 503, and
# in-flight requests and streams get up to SHUTDOWN_DRAIN_SECONDS (keep it below the orchestrator's
# grace period, e.g. compose stop_grace_period). SHUTDOWN_GRACE_SECONDS keeps serving at least that
# long, for load balancers that notice the failed readiness late.
SHUTDOWN_DRAIN_SECONDS = env.float("SHUTDOWN_DRAIN_SECONDS", default=25.0)
SHUTDOWN_GRACE_SECONDS = env.float("SHUTDOWN_GRACE_SECONDS", default=0.0)
# `manage.py serve` runs this many web processes on one socket: one process runs Python on one
# core at a time, so use about one per core (apps/webserver/workers.py).
WEB_WORKERS = env.int("WEB_WORKERS", default=2)
WEB_LISTEN_BACKLOG = env.int("WEB_LISTEN_BACKLOG", default=1024)
SHUTDOWN_APPLICATION_CLOSE_SECONDS = env.float("SHUTDOWN_APPLICATION_CLOSE_SECONDS", default=30.0)

# --- Celery -------------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_DEFAULT_QUEUE = "default"
# Graph enrichment has its own queue and pool: documents are searchable (dense + keyword) as soon
# as their ingestion job commits, and entity extraction never competes with embedding for a core.
CELERY_TASK_ROUTES = {
    "apps.ingestion.tasks.ingest_jobs": {"queue": "ingestion"},
    "apps.ingestion.tasks.sync_documents_graph": {"queue": "graph"},
}
# A task is acknowledged only after it ran, so a killed worker's task goes to another worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # How often a worker looks for messages a dead worker took and never acknowledged.
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=10),
}
# A second SIGTERM (or SIGQUIT) is a cold shutdown: running tasks still get this long, then they
# are handed back to the broker instead of being lost.
CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT = env.float("CELERY_WORKER_SOFT_SHUTDOWN_TIMEOUT", default=20.0)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Periodic jobs (`celery -A config.celery_app beat`): add entries, never replace the dict.
CELERY_BEAT_SCHEDULE = {
    # Nothing stuck: stalled ingestion jobs requeued, lagging graph syncs sent again (docs/ingestion.md).
    "reconcile-ingestion": {
        "task": "apps.ingestion.tasks.reconcile_ingestion_all_tenants",
        "schedule": env.float("INGESTION_RECONCILE_EVERY_SECONDS", default=60.0),
    },
    # Retention: expired query history, feedback and audit data, every tenant (docs/compliance.md).
    "purge-expired-data": {
        "task": "apps.feedback.tasks.purge_expired_all_tenants",
        "schedule": crontab(hour=env.int("RETENTION_PURGE_HOUR_UTC", default=3), minute=17),
    },
}

# --- Channels -----------------------------------------------------------------------------------
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 reads with a 5 s socket timeout by default, exactly channels_redis's 5 s
        # BZPOPMIN: under load the client gave up first and the consumer died. Read longer than that.
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": env.float("CHANNEL_LAYER_SOCKET_TIMEOUT", default=15.0),
                    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                }
            ]
        },
    }
}

# --- Portal (pages and answer streams) ----------------------------------------------------------
# A path, not a URL name: the public host has no portal, and a name would fail to reverse there.
# Where sign-in and sign-out lead is set on the portal's own views (apps/portal/urls.py).
LOGIN_URL = "/accounts/login/"
PORTAL_UPLOAD_MAX_FILES = env.int("PORTAL_UPLOAD_MAX_FILES", default=20)
# Roadmap 5.2: answer streams over WebSocket. Slots are leases in Redis (sorted sets scored by
# expiry), refreshed while a stream runs, so a dead worker's slots lapse after one lease.
PORTAL_STREAM_SLOTS_REDIS_URL = env.str("PORTAL_STREAM_SLOTS_REDIS_URL", default=REDIS_URL)
PORTAL_STREAMS_PER_USER = env.int("PORTAL_STREAMS_PER_USER", default=3)
PORTAL_STREAMS_PER_TENANT = env.int("PORTAL_STREAMS_PER_TENANT", default=100)
PORTAL_STREAM_LEASE_SECONDS = env.float("PORTAL_STREAM_LEASE_SECONDS", default=30.0)
PORTAL_STREAM_MAX_TOKENS = env.int("PORTAL_STREAM_MAX_TOKENS", default=2048)
PORTAL_STREAM_MAX_SECONDS = env.float("PORTAL_STREAM_MAX_SECONDS", default=120.0)
PORTAL_STREAM_CANCEL_GRACE_SECONDS = env.float("PORTAL_STREAM_CANCEL_GRACE_SECONDS", default=2.0)
# Threads per daphne process that run answer streams (more streams than this wait for a thread).
PORTAL_STREAM_THREADS = env.int("PORTAL_STREAM_THREADS", default=64)
# The server pings every HEARTBEAT seconds; a socket silent for HEARTBEAT_TIMEOUT (the client
# answers pings) or without a question for IDLE_TIMEOUT is closed.
PORTAL_WS_HEARTBEAT_SECONDS = env.float("PORTAL_WS_HEARTBEAT_SECONDS", default=15.0)
PORTAL_WS_HEARTBEAT_TIMEOUT_SECONDS = env.float("PORTAL_WS_HEARTBEAT_TIMEOUT_SECONDS", default=45.0)
PORTAL_WS_IDLE_TIMEOUT_SECONDS = env.float("PORTAL_WS_IDLE_TIMEOUT_SECONDS", default=900.0)

# --- HTTP, CORS, security -----------------------------------------------------------------------
# The brief's section 1.5: explicit origins, methods and headers, credentials only when asked for.
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_ALLOW_HEADERS = ["authorization", "content-type", "x-api-key"]
CORS_ALLOW_CREDENTIALS = env.bool("CORS_ALLOW_CREDENTIALS", default=False)
CORS_URLS_REGEX = r"^/api/.*$"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static files -------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
# collectstatic writes content-hashed names (cached for a year by browsers) and gzip/brotli copies;
# `make run`, the release step and the image build run it. A page whose asset is missing from the
# manifest fails loudly instead of rendering unstyled.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
STATICFILES_DIRS = [BASE_DIR / "static"]

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

# --- Logging ------------------------------------------------------------------------------------
# JSON lines (or plain text for humans: LOG_FORMAT=plain) with request id, tenant and trace id.
# Every handler redacts secrets, personal data and document text (apps/core/observability/logs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
# pii_redact(text, *, kinds) -> object with .text. The default, apps.core.pii, is the portal's one
# PII recogniser; it is also the fallback when a named replacement cannot be imported.
LOG_PII_REDACTOR = env.str("LOG_PII_REDACTOR", default="apps.core.pii.pii_redact")
LOG_MAX_MESSAGE_CHARS = env.int("LOG_MAX_MESSAGE_CHARS", default=8000)
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact": {"()": "apps.core.observability.logs.RedactionFilter"},
        "context": {"()": "apps.core.observability.logs.ContextFilter"},
        "abandoned_span_context": {"()": "apps.core.observability.logs.AbandonedSpanContextFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(tenant)s] %(message)s"},
        "json": {"()": "apps.core.observability.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact", "context"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "neo4j": {"level": "WARNING"},
        "opentelemetry.context": {"filters": ["abandoned_span_context"]},
    },
}

# --- Metrics and tracing (docs/observability.md) -----------------------------------------------
# /metrics needs this bearer token or a client address in METRICS_ALLOWED_IPS (CIDRs); else 403.
METRICS_BEARER_TOKEN = secret("METRICS_BEARER_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
# Per-tenant label values on tenant-aware series; keep off when tenants are many (cardinality).
METRICS_TENANT_LABELS = env.bool("METRICS_TENANT_LABELS", default=False)
# Celery workers serve their own /metrics here (0 = off); set PROMETHEUS_MULTIPROC_DIR for prefork.
METRICS_WORKER_PORT = env.int("METRICS_WORKER_PORT", default=0)
METRICS_WORKER_ADDRESS = env.str("METRICS_WORKER_ADDRESS", default="0.0.0.0")  # noqa: S104 - container port
OTEL_ENABLED = env.bool("OTEL_ENABLED", default=True)
OTEL_EXPORTER = env.str("OTEL_EXPORTER", default="none")  # none | console | otlp (OTEL_EXPORTER_OTLP_* vars)
OTEL_SERVICE_NAME = env.str("OTEL_SERVICE_NAME", default="knowledge-portal")
OTEL_SAMPLE_RATIO = env.float("OTEL_SAMPLE_RATIO", default=1.0)

# Production turns this on: web and worker processes refuse to start without their critical
# dependencies (see apps/health/startup.py).
FAIL_FAST_ON_STARTUP = False
