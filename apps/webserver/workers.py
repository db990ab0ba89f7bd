"""`manage.py serve --workers N`: N web processes sharing one listening socket.

One daphne process runs Python on one core at a time (the GIL), so a single process left half of
this 2-core machine idle under API load. The supervisor binds the socket, starts N children of
`manage.py serve --listening-fd` that inherit it (new connections go by load, apps/webserver/
balance.py), restarts a child that dies, and on SIGTERM or SIGINT passes SIGTERM on so every child
drains its in-flight requests (apps/webserver/serving.py) before the supervisor exits.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings

from .balance import LoadTable

logger = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 1.0  # a child that dies at start-up is not restarted in a tight loop
POLL_SECONDS = 0.2


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host.strip("[]"), port))
    listener.listen(settings.WEB_LISTEN_BACKLOG)
    listener.set_inheritable(True)
    return listener


class Supervisor:
    def __init__(self, *, host: str, port: int, workers: int, drain_seconds: float) -> None:
        self.workers, self.drain_seconds = workers, drain_seconds
        self.listener = listening_socket(host, port)
        # Where the workers publish how many connections each holds (apps/webserver/balance.py).
        self.load = LoadTable.create(workers) if hasattr(os, "memfd_create") else None
        self.children: list[subprocess.Popen | None] = [None] * workers
        self.stopping = False

    def child_command(self, slot: int) -> list[str]:
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        fd = str(self.listener.fileno())
        load = () if self.load is None else ("--load-table-fd", str(self.load.fd), "--worker-slot", str(slot))
        return [
            *(sys.executable, manage, "serve", "--listening-fd", fd, "--drain-seconds", str(self.drain_seconds)),
            *("--supervisor-pid", str(os.getpid())),
            *load,
        ]

    def start_child(self, slot: int) -> None:
        # A process group of its own: a terminal's Ctrl-C reaches the supervisor only, which passes it
        # on as SIGTERM; a worker still importing Django would die of it with a KeyboardInterrupt traceback.
        fds = (self.listener.fileno(),) if self.load is None else (self.listener.fileno(), self.load.fd)
        child = subprocess.Popen(self.child_command(slot), pass_fds=fds, process_group=0)
        self.children[slot] = child
        logger.info("web worker %d started (pid %d)", slot, child.pid)

    def stop(self, *_args: object) -> None:
        self.stopping = True

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)
        for slot in range(self.workers):
            self.start_child(slot)
        while not self.stopping:
            self.restart_exited()
            time.sleep(POLL_SECONDS)
        return self.shut_down()

    def restart_exited(self) -> None:
        for slot, child in enumerate(self.children):
            if child is not None and child.poll() is not None:
                logger.warning("web worker %d (pid %d) exited with %s: restarting", slot, child.pid, child.returncode)
                if self.load is not None:
                    self.load.forget(slot)
                time.sleep(RESTART_DELAY_SECONDS)
                if not self.stopping:
                    self.start_child(slot)

    def shut_down(self) -> int:
        """SIGTERM to every child (each drains), then wait a little longer than a drain may take."""
        self.listener.close()
        running = [child for child in self.children if child is not None and child.poll() is None]
        for child in running:
            child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.drain_seconds + settings.SHUTDOWN_APPLICATION_CLOSE_SECONDS
        for child in running:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("web worker pid %d did not stop in time: killing it", child.pid)
                child.kill()
                child.wait()
        logger.info("all web workers stopped")
        # Killed by our SIGTERM: the child was still starting and had nothing in flight to drain.
        clean = {0, -signal.SIGTERM}
        return 0 if all(child.returncode in clean for child in running) else 1


def follow_supervisor(supervisor_pid: int) -> None:
    """In a worker: get SIGTERM (and drain, as on any stop) when the supervisor dies.

    A supervisor killed outright (SIGKILL, the OOM killer) runs no clean-up, and its workers (in
    process groups of their own, so no terminal signal reaches them either) would go on serving
    unsupervised, holding the port a restarted one needs. Linux sends a chosen signal when the
    parent exits (prctl PR_SET_PDEATHSIG); elsewhere nothing is asked.
    """
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM) != 0:
        logger.warning("cannot ask to be stopped with the supervisor (errno %d)", ctypes.get_errno())
        return
    if os.getppid() != supervisor_pid:  # it died before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def serve_workers(*, host: str, port: int, workers: int, drain_seconds: float) -> int:
    return Supervisor(host=host, port=port, workers=workers, drain_seconds=drain_seconds).run()
