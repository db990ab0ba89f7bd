"""Secret key and hosts, users and sign-in (throttling, passwords), Content-Security-Policy, CORS, cookies."""

from __future__ import annotations

from datetime import timedelta

from ..environment import env, secret

# --- Secret key and hosts -----------------------------------------------------------------------
# The insecure default only exists so development starts without configuration;
# production.py refuses to start with it.
INSECURE_DEFAULT_SECRET_KEY = "insecure-development-key-change-me"  # noqa: S105 - refused in production
SECRET_KEY = secret("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[".localhost", "localhost", "127.0.0.1"])

# --- Encryption at rest (apps/tenants/encryption) ----------------------------------------------
# The key-encryption key wraps every tenant's data keys: 32 random bytes, base64 (TENANT_KEK or
# TENANT_KEK_FILE; `make services` writes var/<profile>/tenant-kek.key for development). Losing it
# loses every tenant's documents; a KMS adapter replaces the local one in TENANT_KEK_BACKEND.
TENANT_KEK = secret("TENANT_KEK", default="")
TENANT_KEK_BACKEND = env.str("TENANT_KEK_BACKEND", default="apps.tenants.encryption.kek.LocalKeyEncryptionKey")
# AWS KMS as the key-encryption key (TENANT_KEK_BACKEND=apps.tenants.encryption.kms.AwsKmsKeyEncryptionKey):
# a symmetric KMS key's id, ARN or alias; region and endpoint as for boto3 (the endpoint for a
# VPC endpoint or a local KMS-compatible server).
TENANT_KMS_KEY_ID = env.str("TENANT_KMS_KEY_ID", default="")
TENANT_KMS_REGION = env.str("TENANT_KMS_REGION", default="")
TENANT_KMS_ENDPOINT_URL = env.str("TENANT_KMS_ENDPOINT_URL", default="")
# While the KEK itself is rotated: the KEK moved away from (it only unwraps; `rewrap_tenant_keys`).
TENANT_KEK_PREVIOUS_BACKEND = env.str("TENANT_KEK_PREVIOUS_BACKEND", default="")
TENANT_KEK_PREVIOUS = secret("TENANT_KEK_PREVIOUS", default="")
TENANT_KMS_PREVIOUS_KEY_ID = env.str("TENANT_KMS_PREVIOUS_KEY_ID", default="")

# --- Users and authentication backends ----------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out user name before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Then: refuses every password in a tenant that signs in through its identity provider only.
    "apps.tenants.backends.PasswordSignInPolicyBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No guardian "AnonymousUser" row: anonymous visitors hold no permissions at all.
ANONYMOUS_USER_NAME = None

# --- Single sign-on and provisioning (apps/accounts/oidc.py, apps/api/scim; docs/identity.md) ------
# Where "file:NAME" client-secret references of tenants' identity providers are read (empty: none).
OIDC_CLIENT_SECRETS_DIR = env.str("OIDC_CLIENT_SECRETS_DIR", default="")
# A tenant administrator's issuer URL makes this server fetch it: https only outside development.
OIDC_REQUIRE_HTTPS_ISSUER = env.bool("OIDC_REQUIRE_HTTPS_ISSUER", default=True)
# Bounds on every call to an identity provider (discovery, keys, token exchange).
OIDC_HTTP_TIMEOUT_SECONDS = env.float("OIDC_HTTP_TIMEOUT_SECONDS", default=10.0)
# How long a provider's discovery document and keys are trusted before they are read again (an
# unknown key id is fetched at once: a rotation needs no wait).
OIDC_METADATA_TTL_SECONDS = env.int("OIDC_METADATA_TTL_SECONDS", default=3600)

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

# --- Passwords ----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
