"""The Django project itself: environment, applications, middleware, templates, languages, static files."""

from __future__ import annotations

from pathlib import Path

from ..environment import BASE_DIR, env

# --- Environment --------------------------------------------------------------------------------
# The environment label of every metric and log line; production.py and test.py set their own.
PORTAL_ENV = env.str("PORTAL_ENV", default="local")
DEBUG = env.bool("DEBUG", default=False)

# --- Applications -----------------------------------------------------------------------------
# django-tenants: SHARED_APPS live in the public schema (tenants, domains, platform staff);
# TENANT_APPS are created again in every tenant schema (users, groups, documents, ...).
SHARED_APPS = [
    "django_tenants",
    "daphne",
    "apps.core",
    "apps.tenants",
    # Shards and the directory: no models (its catalogue is a database of its own, apps/directory/catalogue.py).
    "apps.directory",
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
    "apps.bench",  # benchmark and evaluation commands; no models
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

# --- Middleware ---------------------------------------------------------------------------------
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
    # A tenant being moved to another shard: unsafe methods answer 503 with Retry-After.
    "apps.tenants.freeze.TenantWritesFrozenMiddleware",
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

# --- Templates and the ASGI application ---------------------------------------------------------
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
