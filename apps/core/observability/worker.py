"""Celery worker hooks: our logging instead of Celery's, request ids across the broker, and a
/metrics endpoint for worker processes. Connected in config/celery_app.py.

(The trace context crosses the broker through the Celery instrumentation; see tracing.py.)
"""

from __future__ import annotations

import logging
import logging.config
import os
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from prometheus_client import multiprocess
from prometheus_client.exposition import ThreadingWSGIServer

from .context import TASK_HEADER, current_request_id, new_request_id, request_id_set
from .exposition import metrics_wsgi_app

logger = logging.getLogger(__name__)


def worker_logging_configure(*, loglevel: Any = None, **_kwargs: Any) -> None:
    """`setup_logging` receiver: keep settings.LOGGING (JSON, redaction) instead of Celery's handlers.

    `--loglevel` still applies to Celery's own loggers, so "ready." and task lines appear at INFO.
    """
    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger("celery").setLevel(loglevel)


def request_id_into_headers(*, headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    """`before_task_publish` receiver: the task logs under the id of the request that queued it."""
    if headers is not None and current_request_id():
        headers.setdefault(TASK_HEADER, current_request_id())


def request_id_from_headers(*, task: Any = None, **_kwargs: Any) -> None:
    """`task_prerun` receiver (each task runs in its own pass through the worker loop)."""
    request = getattr(task, "request", None)
    carried = getattr(request, TASK_HEADER, None) or (getattr(request, "headers", None) or {}).get(TASK_HEADER)
    if carried:
        request_id_set(str(carried))
    elif not getattr(request, "is_eager", False):
        # A task queued outside any request (beat, a command) gets its own id.
        request_id_set(new_request_id())


def metrics_server_start(**_kwargs: Any) -> None:
    """`worker_ready` receiver: serve /metrics on METRICS_WORKER_PORT (0 = off) from the main process."""
    port = settings.METRICS_WORKER_PORT
    if not port:
        return
    server = make_server(
        settings.METRICS_WORKER_ADDRESS, port, metrics_wsgi_app, ThreadingWSGIServer, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True).start()
    logger.info("worker metrics on %s:%s/metrics", settings.METRICS_WORKER_ADDRESS, port)


def metrics_process_dead(*, pid: int | None = None, **_kwargs: Any) -> None:
    """`worker_process_shutdown` receiver: a dead pool process's gauges stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid or os.getpid())


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood stderr."""
