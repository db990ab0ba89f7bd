"""Liveness and readiness probes (JSON), served before host validation and tenant resolution."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from .checks import run_checks


def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "alive"})


def ready(request: HttpRequest) -> JsonResponse:
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
        "checks": {name: result.ok for name, result in results.items()},
        "details": {
            name: {"detail": result.detail, "duration_ms": result.duration_ms, "critical": name in critical}
            for name, result in results.items()
        },
    }
    response = JsonResponse(body, status=200 if is_ready else 503)
    response["Cache-Control"] = "no-store"
    return response
