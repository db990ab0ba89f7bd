"""Answer /health/* and /metrics before anything looks at the Host header.

Load balancers probe by IP address, which is neither an allowed host nor a tenant domain, so the
probes must run ahead of host validation and django-tenants' host lookup.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from apps.core.observability.exposition import metrics_view
from apps.tenants.context import reset_to_public_schema

from . import views

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/health/live": views.live,
    "/health/ready": views.ready,
    # Prometheus scrapes by address too; the view checks the token or the client address.
    "/metrics": metrics_view,
}


class HealthProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info.rstrip("/"))
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        # Probes only ever look at the public schema; no tenant data is reachable from them.
        reset_to_public_schema()
        return probe(request)
