"""Fail fast at start-up when a critical dependency is missing (roadmap 1.3).

Production web and worker processes call this once; development skips it so the portal can start
while services come up.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .checks import run_checks


def verify_critical_dependencies() -> None:
    failures = {
        name: result for name, result in run_checks(list(settings.HEALTH_CRITICAL_CHECKS)).items() if not result.ok
    }
    if failures:
        reasons = "; ".join(f"{name}: {result.detail}" for name, result in failures.items())
        raise ImproperlyConfigured(f"Refusing to start: critical dependencies unavailable ({reasons}).")


def verify_critical_dependencies_if_configured() -> None:
    if getattr(settings, "FAIL_FAST_ON_STARTUP", False):
        verify_critical_dependencies()
