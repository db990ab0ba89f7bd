"""A tenant URLconf for the logging and tracing tests (never mounted in the portal)."""

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

from apps.accounts.models import User

from .secrets import SECRETS_TEXT

logger = logging.getLogger("tests.ops.views")


def failing_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError(f"upstream call failed: {SECRETS_TEXT}")


def counting_view(request: HttpRequest) -> HttpResponse:
    logger.warning("counting users")
    return JsonResponse({"users": User.objects.count()})


urlpatterns = [path("ops/fail/", failing_view), path("ops/count/", counting_view)]
handler500 = "apps.health.views.server_error"
