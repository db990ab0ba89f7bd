"""The /metrics endpoint: who may scrape it, and what every series carries.

Access needs a bearer token (METRICS_BEARER_TOKEN) or a client address inside METRICS_ALLOWED_IPS;
anything else is 403, and with neither configured nobody gets in (fail closed). The client address
is the socket peer (REMOTE_ADDR), never X-Forwarded-For, which a caller can forge.

Every sample gets an `environment` label from settings.PORTAL_ENV and a `shard` label from
settings.PORTAL_SHARD at render time, so series from django-prometheus, the process collector and
our own metrics are labelled alike.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)


def metrics_access_allowed(*, authorization: str, client_address: str) -> bool:
    token = settings.METRICS_BEARER_TOKEN
    if token and authorization.startswith("Bearer "):
        offered = authorization.removeprefix("Bearer ").strip()
        if hmac.compare_digest(offered.encode(), token.encode()):
            return True
    return _address_allowed(client_address, settings.METRICS_ALLOWED_IPS)


def _address_allowed(address: str, networks: Iterable[str]) -> bool:
    try:
        client = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks:
        try:
            if client in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            logger.warning("ignoring malformed METRICS_ALLOWED_IPS entry %r", network)
    return False


class EnvironmentLabelled:
    """A collector view that adds `environment` and `shard` to every sample of the collectors it wraps."""

    def __init__(self, collectors: Iterable[Collector], *, environment: str, shard: str) -> None:
        self.collectors = list(collectors)
        self.environment = environment
        self.shard = shard

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            for family in collector.collect():
                labelled = Metric(family.name, family.documentation, family.type, family.unit)
                labelled.samples = [
                    sample._replace(labels={**sample.labels, "environment": self.environment, "shard": self.shard})
                    for sample in family.samples
                ]
                yield labelled


def scrape_collectors(*, include_queue_depth: bool) -> list[Collector]:
    """This process's metrics, or all processes' when PROMETHEUS_MULTIPROC_DIR is set (prefork workers)."""
    collectors: list[Collector] = []
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        collectors.append(registry)
    else:
        collectors.append(REGISTRY)
    if include_queue_depth:
        from .queues import CeleryQueueDepthCollector

        collectors.append(CeleryQueueDepthCollector())
    return collectors


def render_metrics(*, include_queue_depth: bool) -> bytes:
    view = EnvironmentLabelled(
        scrape_collectors(include_queue_depth=include_queue_depth),
        environment=settings.PORTAL_ENV,
        shard=settings.PORTAL_SHARD,
    )
    return generate_latest(view)  # any object with collect() will do


def metrics_view(request: HttpRequest) -> HttpResponse:
    allowed = metrics_access_allowed(
        authorization=request.headers.get("Authorization", ""), client_address=request.META.get("REMOTE_ADDR", "")
    )
    if not allowed:
        return HttpResponse(
            "Forbidden: /metrics needs the metrics bearer token or an allowed address.\n",
            status=403,
            content_type="text/plain",
        )
    response = HttpResponse(render_metrics(include_queue_depth=True), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def metrics_wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The same endpoint for Celery workers, served by a small WSGI server in the worker's main
    process, with an open /health/live for the container's health check."""
    path = environ.get("PATH_INFO", "/")
    if path == "/health/live":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"status": "alive"}']
    allowed = path in ("/metrics", "/") and metrics_access_allowed(
        authorization=environ.get("HTTP_AUTHORIZATION", ""), client_address=environ.get("REMOTE_ADDR", "")
    )
    if not allowed:
        start_response("403 Forbidden", [("Content-Type", "text/plain")])
        return [b"Forbidden\n"]
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")])
    return [render_metrics(include_queue_depth=False)]
