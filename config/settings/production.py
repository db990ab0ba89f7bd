"""Production: everything comes from the environment, and unsafe settings refuse to start."""

from django.core.exceptions import ImproperlyConfigured

from apps.tenants.encryption.kek import kek_secret_parse

from .base import *  # noqa: F403
from .base import (
    DATABASE_URL,
    DEBUG,
    INSECURE_DEFAULT_SECRET_KEY,
    SECRET_KEY,
    TENANT_KEK,
    TENANT_KEK_BACKEND,
    TENANT_KMS_KEY_ID,
)
from .environment import env

if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production (unset DEBUG or set DEBUG=False).")
if not SECRET_KEY or SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 32 characters in production "
        "(SECRET_KEY or SECRET_KEY_FILE); the development default is refused."
    )
if TENANT_KEK_BACKEND.endswith(".LocalKeyEncryptionKey"):
    kek_secret_parse(TENANT_KEK)  # a missing or malformed key-encryption key stops the process here
if TENANT_KEK_BACKEND.endswith(".AwsKmsKeyEncryptionKey") and not TENANT_KMS_KEY_ID:
    raise ImproperlyConfigured("TENANT_KMS_KEY_ID must name the KMS key that wraps tenant keys.")
if not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_URL (or DATABASE_URL_FILE) must be set in production.")

# The `environment` label of every metric and log line (roadmap 1.2); staging sets PORTAL_ENV=staging.
PORTAL_ENV = env.str("PORTAL_ENV", default="production")

# Web and worker processes check their critical dependencies before serving (apps/health/startup.py).
FAIL_FAST_ON_STARTUP = env.bool("FAIL_FAST_ON_STARTUP", default=True)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
