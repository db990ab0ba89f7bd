"""What every loopback service of devservices.py shares: free ports, pids, waiting, and the life
cycle (remember a port and a password, start when not running, stop by pid)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path


class ServiceError(RuntimeError):
    """A service could not be started or stopped; the message says what to look at."""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_accepts_connections(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_is_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
        if status == "Z":
            return False
    return True


def wait_until(predicate, *, timeout: float, what: str, log_file: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = ""
    if log_file and log_file.exists():
        tail = (
            "\n--- last lines of "
            + str(log_file)
            + " ---\n"
            + "\n".join(log_file.read_text(errors="replace").splitlines()[-25:])
        )
    raise ServiceError(f"{what} did not become ready within {timeout:.0f}s{tail}")


@dataclass
class ServiceState:
    """What we remember about a started service, stored as JSON next to its data."""

    port: int
    pid: int | None = None
    password: str = ""

    @classmethod
    def load(cls, path: Path) -> ServiceState | None:
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(port=data["port"], pid=data.get("pid"), password=data.get("password", ""))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"port": self.port, "pid": self.pid, "password": self.password}))
        path.chmod(0o600)


class EmbeddedService:
    """Common life cycle: remember a port and a password, start when not running, stop by pid."""

    name = "service"

    def __init__(self, home: Path, *, fast_and_unsafe: bool = False) -> None:
        self.home = home
        # Test profiles trade durability for speed (no fsync, no snapshots).
        self.fast_and_unsafe = fast_and_unsafe
        self.state_path = home / "state.json"
        self.log_file = home / f"{self.name}.log"

    @property
    def state(self) -> ServiceState | None:
        return ServiceState.load(self.state_path)

    def is_running(self) -> bool:
        state = self.state
        return bool(state and pid_is_alive(self._current_pid()) and port_accepts_connections(state.port))

    def _current_pid(self) -> int | None:
        state = self.state
        return state.pid if state else None

    def start(self) -> ServiceState:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.is_running():
            assert self.state is not None
            return self.state
        previous = self.state
        port = previous.port if previous and not port_accepts_connections(previous.port) else free_loopback_port()
        password = previous.password if previous and previous.password else secrets.token_urlsafe(18)
        state = ServiceState(port=port, password=password)
        state.pid = self._launch(state)
        state.save(self.state_path)
        return state

    def stop(self, timeout: float = 20) -> None:
        pid = self._current_pid()
        if not pid_is_alive(pid):
            return
        assert pid is not None
        self._terminate(pid)
        deadline = time.monotonic() + timeout
        while pid_is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_is_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        state = self.state
        if state:
            state.pid = None
            state.save(self.state_path)

    def _terminate(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)

    def _launch(self, state: ServiceState) -> int:
        raise NotImplementedError

    def url(self) -> str:
        raise NotImplementedError
