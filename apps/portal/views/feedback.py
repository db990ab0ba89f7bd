"""Thumbs up or down, with an optional comment, on one of the user's own answers."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.answers.models import QueryLog
from apps.answers.selectors import query_log_get_for_user
from apps.feedback.services import feedback_submit

from ..forms import FeedbackForm
from .history import history_context


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _invalid(request: HttpRequest, entry: QueryLog, form: FeedbackForm) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"ok": False, "errors": form.errors.get_json_data()}, status=400)
    return render(request, "portal/history/detail.html", history_context(request, entry, form), status=400)


@login_required
@require_POST
def feedback(request: HttpRequest, query_id: int) -> HttpResponse:
    try:
        entry = query_log_get_for_user(user=request.user, query_id=query_id)
    except QueryLog.DoesNotExist:
        raise Http404(_("No such question in your history.")) from None
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        return _invalid(request, entry, form)
    try:
        feedback_submit(
            user=request.user,  # type: ignore[arg-type]
            query_id=entry.pk,
            rating=form.cleaned_data["rating"],
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as error:  # the service's own checks; nothing was stored
        form.add_error(None, error.messages)
        return _invalid(request, entry, form)
    message = _("Thank you for your feedback.")
    if _wants_json(request):
        return JsonResponse({"ok": True, "message": message})
    messages.success(request, message)
    return redirect("portal:history_detail", query_id=entry.pk)
