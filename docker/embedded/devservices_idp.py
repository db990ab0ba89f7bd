"""The local OpenID Connect identity provider of devservices.py: `docker/oidc-provider/server.mjs`
(Node, npm `oidc-provider`), issuer http://127.0.0.1:<port>, one confidential client `portal`.

Its home (var/<profile>/idp) holds what the server makes at first start, all mode 0600: jwks.json
(the signing key), client-secret, admin-token (for POST /__admin/rotate-keys) and accounts.json
(demo accounts alice, bob and carol with random passwords; read on every login, so tests may
rewrite it while the server runs)."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from devservices_base import EmbeddedService, ServiceError, ServiceState, wait_until
from devservices_engines import REPO_ROOT

OIDC_PROVIDER_DIR = REPO_ROOT / "docker" / "oidc-provider"
OIDC_CLIENT_ID = "portal"


class OidcProviderService(EmbeddedService):
    """The local OpenID Connect identity provider, on loopback, state in memory, keys in its home."""

    name = "idp"
    startup_timeout = 30.0

    @property
    def client_secret_file(self) -> Path:
        return self.home / "client-secret"

    @property
    def accounts_file(self) -> Path:
        return self.home / "accounts.json"

    @property
    def admin_token_file(self) -> Path:
        return self.home / "admin-token"

    def _launch(self, state: ServiceState) -> int:
        node = shutil.which("node")
        if not node:
            raise ServiceError("node is not installed: the identity provider needs Node.js 20+ (see `make setup`)")
        if not (OIDC_PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
            raise ServiceError(f"{OIDC_PROVIDER_DIR}/node_modules is missing: run `make setup`")
        env = {**os.environ, "PORT": str(state.port), "IDP_HOME": str(self.home.resolve())}
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [node, str(OIDC_PROVIDER_DIR / "server.mjs")],
                cwd=OIDC_PROVIDER_DIR,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
            )
        wait_until(
            lambda: process.poll() is not None or discovery_answers(state.port),
            timeout=self.startup_timeout,
            what="the OpenID Connect provider",
            log_file=self.log_file,
        )
        if process.poll() is not None:
            tail = "\n".join(self.log_file.read_text(errors="replace").splitlines()[-15:])
            raise ServiceError(
                f"the OpenID Connect provider exited with {process.returncode}; see {self.log_file}\n{tail}"
            )
        return process.pid

    def url(self) -> str:
        state = self.state
        assert state is not None, "the OpenID Connect provider has never been started"
        return f"http://127.0.0.1:{state.port}"

    def settings_env(self) -> dict[str, str]:
        """What the Django settings need besides the issuer (services.env lines)."""
        return {
            "OIDC_DEV_CLIENT_ID": OIDC_CLIENT_ID,
            "OIDC_DEV_CLIENT_SECRET_FILE": str(self.client_secret_file.resolve()),
            "OIDC_DEV_ACCOUNTS_FILE": str(self.accounts_file.resolve()),
            "OIDC_DEV_ADMIN_TOKEN_FILE": str(self.admin_token_file.resolve()),
        }


def discovery_answers(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
