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
from ..realtime.frames import done_frame
from .strings import ask_strings


def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:ask")


@login_required
@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    form = AskForm(request.POST) if request.method == "POST" else AskForm()
    answer, error = None, ""
    if request.method == "POST" and form.is_valid():
        try:
            result = answer_question(user=request.user, question=form.cleaned_data["question"], channel="portal")
        except QueryTimeoutError:
            error = _("The answer took too long. Please try again.")
        else:
            answer = done_frame(result.as_dict())
    context = {
        "form": form,
        "answer": answer,
        "error": error,
        "feedback_form": FeedbackForm(),
        "strings": ask_strings(),
    }
    return render(request, "portal/ask.html", context, status=400 if form.errors else 200)
