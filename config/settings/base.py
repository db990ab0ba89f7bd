"""Settings shared by every environment. Environment-specific modules import this last-minute.

Read the environment through `env` / `secret` only (see environment.py).
"""

from __future__ import annotations

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
    "django_celery_results",
    "rest_framework",
    "corsheaders",
    "django_prometheus",
    "channels",
    "apps.health",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "apps.accounts",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "guardian",
    "apps.documents",
    "apps.ingestion",
    "apps.retrieval",
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
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No guardian "AnonymousUser" row: anonymous visitors hold no permissions at all.
ANONYMOUS_USER_NAME = None

MIDDLEWARE = [
    # Probes answer on any Host header, before host validation and tenant resolution.
    "apps.health.middleware.HealthProbeMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

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
DATABASES["default"].setdefault("OPTIONS", {})
# A probe or a request must never hang on an unreachable database.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
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
# Archives (DOCX) are refused when they would expand past this, or by more than the ratio (zip bombs).
INGESTION_MAX_UNCOMPRESSED_BYTES = env.int("INGESTION_MAX_UNCOMPRESSED_BYTES", default=200 * 1024 * 1024)
INGESTION_MAX_COMPRESSION_RATIO = env.int("INGESTION_MAX_COMPRESSION_RATIO", default=100)
INGESTION_MAX_PDF_PAGES = env.int("INGESTION_MAX_PDF_PAGES", default=2000)
CHUNK_MAX_TOKENS = env.int("CHUNK_MAX_TOKENS", default=256)
CHUNK_OVERLAP_TOKENS = env.int("CHUNK_OVERLAP_TOKENS", default=32)
# Jobs handled by one Celery task: documents are embedded together, so batches stay full.
INGESTION_JOBS_PER_TASK = env.int("INGESTION_JOBS_PER_TASK", default=16)
# Dotted paths of callables (ChunkDraft -> ChunkDraft) applied before anything is stored (PII policy).
INGESTION_TEXT_FILTERS: list[str] = []
INGESTION_MAX_ATTEMPTS = env.int("INGESTION_MAX_ATTEMPTS", default=5)
INGESTION_RETRY_BACKOFF_SECONDS = env.float("INGESTION_RETRY_BACKOFF_SECONDS", default=2.0)
INGESTION_RETRY_BACKOFF_MAX_SECONDS = env.float("INGESTION_RETRY_BACKOFF_MAX_SECONDS", default=120.0)

# --- Embeddings ---------------------------------------------------------------------------------
EMBEDDER_BACKEND = env.str("EMBEDDER_BACKEND", default="apps.integrations.embeddings.onnx_minilm.OnnxMiniLMEmbedder")
EMBEDDING_DIMENSIONS = 384
EMBEDDING_BATCH_SIZE = env.int("EMBEDDING_BATCH_SIZE", default=32)
# Padded tokens per ONNX run: long chunks go in small batches (faster and far less memory on CPU).
EMBEDDING_BATCH_TOKENS = env.int("EMBEDDING_BATCH_TOKENS", default=1024)
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
RETRIEVAL_RERANKER = env.str("RETRIEVAL_RERANKER", default="")  # dotted path: (query, candidates) -> candidates
RETRIEVAL_CACHE_TTL_SECONDS = env.int("RETRIEVAL_CACHE_TTL_SECONDS", default=3600)
RESPONSE_CACHE_TTL_SECONDS = env.int("RESPONSE_CACHE_TTL_SECONDS", default=1800)
GRAPH_LEG_FANOUT = env.int("GRAPH_LEG_FANOUT", default=25)  # neighbours walked per linked entity
GRAPH_LEG_MAX_NEIGHBOUR_DEGREE = env.int("GRAPH_LEG_MAX_NEIGHBOUR_DEGREE", default=50)  # skip hub entities
GRAPH_LEG_SECOND_HOP_DISCOUNT = env.float("GRAPH_LEG_SECOND_HOP_DISCOUNT", default=0.5)
GRAPH_LEG_PARTIAL_LINK_WEIGHT = env.float("GRAPH_LEG_PARTIAL_LINK_WEIGHT", default=0.5)  # partial vs exact link
GRAPH_LEG_MAX_SEEDS = env.int("GRAPH_LEG_MAX_SEEDS", default=12)  # linked entities walked per question
GRAPH_LEG_PARTIAL_LINKS_PER_ENTITY = env.int("GRAPH_LEG_PARTIAL_LINKS_PER_ENTITY", default=5)
BM25_K1 = env.float("BM25_K1", default=1.2)
BM25_B = env.float("BM25_B", default=0.75)

# --- LLM ----------------------------------------------------------------------------------------
ANTHROPIC_API_KEY = secret("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env.str("ANTHROPIC_BASE_URL", default="")  # tests point this at a local fake server
ANTHROPIC_MODEL = env.str("ANTHROPIC_MODEL", default="claude-sonnet-4-5")
ANTHROPIC_TIMEOUT = env.float("ANTHROPIC_TIMEOUT", default=30.0)

# --- Health -------------------------------------------------------------------------------------
# Critical dependencies make /health/ready 503 and stop a production start; optional ones only
# mark the portal degraded (answers still work without cache or graph).
HEALTH_CRITICAL_CHECKS = ["postgres"]
HEALTH_OPTIONAL_CHECKS = ["redis", "neo4j"]

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
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"

# --- Channels -----------------------------------------------------------------------------------
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

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
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- REST framework -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}

# --- Logging ------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"neo4j": {"level": "WARNING"}},
}

# Production turns this on: web and worker processes refuse to start without their critical
# dependencies (see apps/health/startup.py).
FAIL_FAST_ON_STARTUP = False
