"""Liveness and readiness probes (JSON), served before host validation and tenant resolution."""

from __future__ import annotations

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from apps.core.errors import DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE_MESSAGE

from .checks import run_checks
from .draining import shutting_down


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})


def ready(request: HttpRequest) -> JsonResponse:
    if shutting_down():
        # Checked first and answered at once: the load balancer must stop routing here now.
        return _probe_response({"ready": False, "status": "draining", "checks": {}, "details": {}}, status=503)
    critical = list(settings.HEALTH_CRITICAL_CHECKS)
    optional = list(settings.HEALTH_OPTIONAL_CHECKS)
    results = run_checks(critical + optional)
    is_ready = all(results[name].ok for name in critical)
    degraded = [name for name in optional if not results[name].ok]
    if not is_ready:
        status = "unavailable"
    elif degraded:
        status = "degraded"
    else:
        status = "ok"
    body = {
        "ready": is_ready,
        "status": status,
        # The shard whose servers the checks below are (docs/operations.md, "Shards").
        "shard": settings.PORTAL_SHARD,
        "checks": {name: result.ok for name, result in results.items()},
        "details": {
            name: {"detail": result.detail, "duration_ms": result.duration_ms, "critical": name in critical}
            for name, result in results.items()
        },
    }
    return _probe_response(body, status=200 if is_ready else 503)


def _probe_response(body: dict, *, status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    # Probes poll every few seconds; a 503 is their answer, not a server error worth an ERROR line
    # each time (django.request skips responses marked as logged).
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


# Uncaught errors end here (handler500 in config/urls_*.py). A database that cannot be reached is
# an outage, not a bug: answer 503 with a clear message and Retry-After so clients and load
# balancers back off, instead of a bare 500.


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]
    if not isinstance(error, OperationalError | InterfaceError):
        return defaults.server_error(request)
    if _wants_json(request):
        response: HttpResponse = JsonResponse(
            {"error": {"code": "service_unavailable", "message": DATABASE_UNAVAILABLE_MESSAGE}}, status=503
        )
    else:
        response = HttpResponse(
            "<!doctype html><html lang=en><title>Service unavailable</title>"
            f"<h1>Service unavailable</h1><p>{DATABASE_UNAVAILABLE_MESSAGE}</p></html>",
            status=503,
            content_type="text/html; charset=utf-8",
        )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or ("json" in accept and "html" not in accept)
