"""What a locked-out sign-in gets: a page (or JSON) saying so, with 429 and Retry-After, and an
`auth.lockout` audit event (apps/audit/receivers.py listens to django-axes' signal)."""

from __future__ import annotations

import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def lockout_response(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None, *args, **kwargs
) -> HttpResponse:
    retry_after = str(math.ceil(settings.AXES_COOLOFF_TIME.total_seconds()))
    message = _("Too many failed sign-ins for this account. Try again in %(minutes)s minutes.") % {
        "minutes": math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    }
    if "application/json" in request.headers.get("Accept", ""):
        answer: HttpResponse = JsonResponse({"error": {"code": "locked_out", "message": message}}, status=429)
    else:
        answer = render(request, "portal/locked_out.html", {"message": message}, status=429)
    answer["Retry-After"] = retry_after
    return answer
