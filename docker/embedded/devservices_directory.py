"""The directory of devservices.py: HAProxy (Debian's haproxy) in front of the shards' web processes.

It starts with a configuration that routes nothing (every request 404); `manage.py directory_sync`
writes the real one from the catalogue (apps/directory/haproxy.py) into this service's home and
asks the master process to reload it over its socket, so connections in flight finish on the old
configuration while new ones take the new.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devservices_base import EmbeddedService, ServiceError, ServiceState, port_accepts_connections, wait_until

EMPTY_CONFIGURATION = """\
global
    master-worker
    maxconn 4096
defaults
    mode http
    timeout connect 3s
    timeout client 60s
    timeout server 60s
frontend directory
    bind 127.0.0.1:{port}
    http-request return status 404 content-type application/json \
        string '{{"detail": "No tenant is served at this address."}}'
"""


class DirectoryService(EmbeddedService):
    """HAProxy on loopback; its configuration and maps live in its home and are rewritten by directory_sync.

    DIRECTORY_PORT asks for a port (`make run` puts the directory where the portal is browsed);
    otherwise it keeps the free port it first took."""

    name = "directory"

    def start(self) -> ServiceState:
        wanted = int(os.environ.get("DIRECTORY_PORT") or 0)
        state = self.state
        if wanted and state and state.port != wanted:
            self.stop()
            state.port = wanted
            state.save(self.state_path)
            # A configuration written for the old port would bind it again: start from an empty one.
            self.config_file.unlink(missing_ok=True)
        elif wanted and state is None:
            ServiceState(port=wanted).save(self.state_path)
        return super().start()

    @property
    def config_file(self) -> Path:
        return self.home / "haproxy.cfg"

    @property
    def master_socket(self) -> Path:
        return self.home / "master.sock"

    def _launch(self, state: ServiceState) -> int:
        binary = shutil.which("haproxy")
        if not binary:
            raise ServiceError("haproxy is not installed: run `make setup` (installs Debian's haproxy)")
        # The port is fixed for the life of the home: directory_sync writes it into every configuration.
        (self.home / "port").write_text(str(state.port))
        if not self.config_file.exists():
            self.config_file.write_text(EMPTY_CONFIGURATION.format(port=state.port))
        self.master_socket.unlink(missing_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                [binary, "-W", "-S", f"{self.master_socket},mode,600", "-f", str(self.config_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(
            lambda: process.poll() is not None or port_accepts_connections(state.port),
            timeout=20,
            what="HAProxy (the directory)",
            log_file=self.log_file,
        )
        if process.poll() is not None:
            raise ServiceError(f"HAProxy exited with {process.returncode}; see {self.log_file}")
        return process.pid

    def url(self) -> str:
        state = self.state
        assert state is not None, "the directory has never been started"
        return f"http://127.0.0.1:{state.port}"

    def settings_env(self) -> dict[str, str]:
        return {"DIRECTORY_URL": self.url(), "DIRECTORY_HAPROXY_HOME": str(self.home.resolve())}
