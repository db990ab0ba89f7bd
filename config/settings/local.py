"""Development: the loopback services started by `make services` (var/dev/services.env)."""

from .environment import read_env_files

read_env_files("dev")

from .base import *  # noqa: E402,F403
from .environment import env  # noqa: E402

DEBUG = env.bool("DEBUG", default=True)
# Development: scrape /metrics from this machine without a token; read logs as text.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1/32", "::1/128"])
LOGGING["handlers"]["console"]["formatter"] = env.str("LOG_FORMAT", default="plain")  # noqa: F405
# Edits to static files show on reload, without collectstatic (make run collects them once anyway).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
# The loopback identity provider of `make services` (docker/oidc-provider) speaks plain http;
# `configure_sso --from-dev-idp` copies its client secret to the demo tenant's "file:demo".
OIDC_REQUIRE_HTTPS_ISSUER = env.bool("OIDC_REQUIRE_HTTPS_ISSUER", default=False)
OIDC_CLIENT_SECRETS_DIR = env.str("OIDC_CLIENT_SECRETS_DIR", default=str(BASE_DIR / "var" / "dev" / "oidc-secrets"))  # noqa: F405
