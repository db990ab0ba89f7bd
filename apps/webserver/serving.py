"""Run the portal under daphne and shut down gracefully (roadmap 9.2).

daphne alone cancels every running request the moment it gets SIGTERM. Here SIGTERM (or SIGINT)
starts a drain instead: readiness turns 503 so the load balancer stops routing to this process,
requests and streams in flight may finish, and the server stops when none is left or when the
drain deadline passes (streams still open then are closed; clients reconnect elsewhere).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import time
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from opentelemetry import trace

from apps.core.database import connection_pool_enable
from apps.health.draining import shutdown_begin

from .balance import LoadTable, accept_by_load, accept_one_connection_per_wakeup, open_connections

logger = logging.getLogger(__name__)


def serve(
    *,
    host: str,
    port: int,
    drain_seconds: float,
    grace_seconds: float = 0.0,
    listening_fd: int | None = None,
    load_slot: tuple[int, int] | None = None,
) -> None:
    """Serve in this process, on host:port or on an inherited listening socket (apps/webserver/workers.py);
    `load_slot` is the inherited table of the workers' loads and this worker's entry in it."""
    # daphne.server installs Twisted's asyncio reactor on import: it must come before the reactor.
    from daphne import server as daphne_server
    from daphne.endpoints import build_endpoint_description_strings
    from daphne.server import Server
    from twisted.internet import reactor

    from .request_limits import BoundedHTTPFactory

    # Server.run builds its HTTP factory from this module-level name; ours bounds request bodies
    # before they are read (apps/webserver/request_limits.py).
    daphne_server.HTTPFactory = BoundedHTTPFactory

    connection_pool_enable()
    warm_up()
    # Everything loaded so far (Django, the embedding model: some 160,000 objects) lives as long as
    # the process. Left to the collector, each full collection walked all of it, about 80 ms with
    # the GIL held, stalling every stream of the process; frozen, it is never walked again.
    gc.freeze()
    if listening_fd is None:
        endpoints = build_endpoint_description_strings(host=host, port=port)
    else:
        accept_one_connection_per_wakeup()
        endpoints = build_endpoint_description_strings(file_descriptor=listening_fd)
    server = Server(
        application=import_string(settings.ASGI_APPLICATION),
        endpoints=endpoints,
        signal_handlers=False,
        application_close_timeout=settings.SHUTDOWN_APPLICATION_CLOSE_SECONDS,
    )
    if load_slot is not None:
        fd, slot = load_slot
        accept_by_load(table=LoadTable.inherited(fd), slot=slot, connections=lambda: open_connections(reactor))
    drain = Drain(server=server, reactor=reactor, drain_seconds=drain_seconds, grace_seconds=grace_seconds)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: reactor.callFromThread(drain.begin))
    where = f"{host}:{port}" if listening_fd is None else f"inherited socket {listening_fd}"
    logger.info("serving on %s (drain up to %.0fs on SIGTERM)", where, drain_seconds)
    server.run()
    logger.info("server stopped")


def warm_up() -> None:
    """Load the embedding model before taking traffic. Loaded on first use instead, it made the
    first questions after a (re)start wait for it and their dense legs time out. A failure (a
    remote embedder down) is logged and serving starts anyway: the leg degrades as it would later.
    The speller's English word list (0.4 s) is read first, else the first question with a typo waits."""
    from apps.integrations.embeddings.factory import embedder
    from apps.text.spelling import english_words

    english_words()
    started = time.monotonic()
    try:
        embedder().inner.embed_query("warm-up")  # type: ignore[attr-defined]  # past the per-tenant cache
    except Exception:
        logger.warning("embedding model warm-up failed; the first questions will load it", exc_info=True)
        return
    logger.info("embedding model loaded in %.1fs", time.monotonic() - started)


def exit_now() -> None:
    """Leave without waiting: a request cut off at the deadline may hold a thread blocked in a slow
    call, and both daphne's shutdown and the interpreter's exit would wait for it. Flush spans and
    logs first; PostgreSQL rolls back whatever transaction the thread had open."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush(timeout_millis=5000)
    logging.shutdown()
    os._exit(0)


class Drain:
    POLL_SECONDS = 0.2

    def __init__(self, *, server: Any, reactor: Any, drain_seconds: float, grace_seconds: float) -> None:
        self.server, self.reactor = server, reactor
        self.drain_seconds, self.grace_seconds = drain_seconds, grace_seconds
        self.started_at: float | None = None

    def begin(self) -> None:
        if self.started_at is not None:
            return  # a second signal changes nothing: the deadline already bounds the wait
        self.started_at = time.monotonic()
        shutdown_begin()
        logger.info("shutdown requested: draining %d in-flight request(s) and stream(s)", self.in_flight())
        self._check()

    def in_flight(self) -> int:
        """Connections whose application is still running (an idle keep-alive connection has none)."""
        return sum(
            1
            for details in list(self.server.connections.values())
            if details.get("application_instance") is not None and not details["application_instance"].done()
        )

    def _check(self) -> None:
        assert self.started_at is not None
        waited = time.monotonic() - self.started_at
        busy = self.in_flight()
        if busy and waited >= self.drain_seconds:
            logger.warning("drain deadline reached: abandoning %d unfinished request(s) and stream(s)", busy)
            exit_now()
        if busy == 0 and waited >= self.grace_seconds:
            logger.info("drained after %.1fs", waited)
            self.server.stop()
            return
        self.reactor.callLater(self.POLL_SECONDS, self._check)
