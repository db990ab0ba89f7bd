"""The Ask page. With JavaScript the answer streams over `/ws/ask/`; without, the form posts here."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.answers.errors import QueryTimeoutError
from apps.answers.models import Conversation
from apps.answers.selectors import conversation_get_for_user
from apps.answers.services import answer_question

from ..forms import AskForm, FeedbackForm
from ..question_limits import question_wait_seconds
from ..realtime.frames import done_frame
from .history import thread_turns
from .strings import ask_strings


def home(request: HttpRequest) -> HttpResponse:
    return redirect("portal:ask")


@login_required
@require_http_methods(["GET", "POST"])
def ask(request: HttpRequest) -> HttpResponse:
    """GET ?conversation=N shows that thread ready for a follow-up; POST answers (in the thread the
    form names, else in a new one)."""
    form = AskForm(request.POST) if request.method == "POST" else AskForm(initial=_continued(request))
    answer, error, wait = None, "", 0
    status = 400 if form.errors else 200
    if request.method == "POST" and form.is_valid():
        wait = question_wait_seconds(schema_name=request.tenant.schema_name, user=request.user)  # type: ignore[attr-defined,arg-type]
        if wait:
            error, status = (
                _("You are asking questions too quickly. Try again in %(seconds)s s.") % {"seconds": wait},
                429,
            )
        else:
            answer, error = _answered(request, form.cleaned_data["question"], form.cleaned_data["conversation_id"])
            if answer is not None:  # the next question follows up on this one
                form = AskForm(initial={"conversation_id": answer["conversation_id"]})
    conversation_id = (answer or {}).get("conversation_id") or form["conversation_id"].value()
    context = {
        "form": form,
        "answer": answer,
        "error": error,
        "thread": _thread(request, conversation_id, leaving_out=(answer or {}).get("query_id")),
        "feedback_form": FeedbackForm(),
        "strings": ask_strings(),
    }
    response = render(request, "portal/ask.html", context, status=status)
    if status == 429:
        response["Retry-After"] = str(wait)
    return response


def _continued(request: HttpRequest) -> dict:
    """?conversation=N: the user's own thread (anything else is a 404, like a missing one)."""
    raw = request.GET.get("conversation", "")
    if not raw:
        return {}
    try:
        conversation = conversation_get_for_user(user=request.user, conversation_id=int(raw))
    except (ValueError, Conversation.DoesNotExist):
        raise Http404(_("No such conversation in your history.")) from None
    return {"conversation_id": conversation.pk}


def _thread(request: HttpRequest, conversation_id: str | int | None, *, leaving_out: int | None) -> list[dict]:
    """The thread's earlier turns as the page shows them (answers re-checked against today's rights)."""
    if not conversation_id:
        return []
    try:
        conversation = conversation_get_for_user(user=request.user, conversation_id=int(conversation_id))
    except (ValueError, Conversation.DoesNotExist):
        return []
    return thread_turns(request, conversation, leaving_out=leaving_out)


def _answered(request: HttpRequest, question: str, conversation_id: int | None) -> tuple[dict | None, str]:
    try:
        result = answer_question(
            user=request.user, question=question, channel="portal", conversation_id=conversation_id
        )
    except QueryTimeoutError:
        return None, _("The answer took too long. Please try again.")
    except Conversation.DoesNotExist:
        return None, _("That conversation is not in your history any more. Start a new one.")
    return {**done_frame(result.as_dict()), "question": question}, ""
