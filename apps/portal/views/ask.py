"""The Ask page. With JavaScript the answer streams over `/ws/ask/`; without, the form posts here."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.answers.errors import QueryTimeoutError
from apps.answers.services import answer_question

from ..forms import AskForm, FeedbackForm
from ..question_limits import question_wait_seconds
from ..realtime.frames import done_frame
from .strings import ask_strings


def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:ask")


@login_required
@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    form = AskForm(request.POST) if request.method == "POST" else AskForm()
    answer, error = None, ""
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        wait = question_wait_seconds(schema_name=request.tenant.schema_name, user=request.user)  # type: ignore[attr-defined,arg-type]
        if wait:
            error, status = (
                _("You are asking questions too quickly. Try again in %(seconds)s s.") % {"seconds": wait},
                429,
            )
        else:
            answer, error = _answered(request, form.cleaned_data["question"])
    context = {
        "form": form,
        "answer": answer,
        "error": error,
        "feedback_form": FeedbackForm(),
        "strings": ask_strings(),
    }
    response = render(request, "portal/ask.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(wait)
    return response


def _answered(request: HttpRequest, question: str) -> tuple[dict | None, str]:
    try:
        result = answer_question(user=request.user, question=question, channel="portal")
    except QueryTimeoutError:
        return None, _("The answer took too long. Please try again.")
    return done_frame(result.as_dict()), ""
