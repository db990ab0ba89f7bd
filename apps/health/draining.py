"""Whether this process is shutting down: readiness then says 503 so load balancers stop sending
new traffic, while requests already in flight finish. The web server (apps/webserver/serving.py)
starts the drain; the flag lives here, with the probe that reports it, so health never imports
the server."""

from __future__ import annotations

import threading

_draining = threading.Event()


def shutdown_begin() -> None:
    _draining.set()


def shutting_down() -> bool:
    return _draining.is_set()
