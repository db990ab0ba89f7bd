"""History: the signed-in user's own conversations, most recent first; each thread with its
questions and answers, and each question with its answer, sources and feedback."""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.answers.citations import MARKER
from apps.answers.conversations import conversation_remove
from apps.answers.evidence.text import passage_excerpt, passage_label
from apps.answers.models import Conversation, QueryLog
from apps.answers.safety.pii import pii_mask_for_answers
from apps.answers.selectors import (
    conversation_get_for_user,
    conversation_turns,
    conversations_for_user,
    query_log_get_for_user,
    query_logs_withheld,
)

from ..forms import FeedbackForm
from ..realtime.frames import source_url
from ..selectors import chunks_cited_for_user

QUESTIONS_PER_PAGE = 20


@login_required
def history(request: HttpRequest) -> HttpResponse:
    page = Paginator(conversations_for_user(user=request.user), QUESTIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/history/list.html", {"page": page})


@login_required
@require_http_methods(["GET", "POST"])
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The thread; POST removes it from the user's history (the query log keeps it for compliance)."""
    try:
        conversation = conversation_get_for_user(user=request.user, conversation_id=conversation_id)
        if request.method == "POST":
            conversation_remove(user=request.user, conversation_id=conversation_id)
            messages.success(request, _("The conversation was removed from your history."))
            return redirect("portal:history")
    except Conversation.DoesNotExist:
        raise Http404(_("No such conversation in your history.")) from None
    context = {"conversation": conversation, "turns": thread_turns(request, conversation, leaving_out=None)}
    return render(request, "portal/history/conversation.html", context)


def thread_turns(request: HttpRequest, conversation: Conversation, *, leaving_out: int | None) -> list[dict]:
    """Each question of the thread, oldest first, with its answer (markers dropped: the turn's own
    page has the citations) unless it cited a passage the user can no longer open."""
    entries = [entry for entry in conversation_turns(conversation=conversation) if entry.pk != leaving_out]
    withheld = query_logs_withheld(user=request.user, entries=entries)
    return [
        {
            "entry": entry,
            "withheld": entry.pk in withheld,
            "answer": "" if entry.pk in withheld else MARKER.sub("", entry.answer),
        }
        for entry in entries
    ]


@login_required
def history_detail(request: HttpRequest, query_id: int) -> HttpResponse:
    try:
        entry = query_log_get_for_user(user=request.user, query_id=query_id)
    except QueryLog.DoesNotExist:
        raise Http404(_("No such question in your history.")) from None
    return render(request, "portal/history/detail.html", history_context(request, entry, FeedbackForm()))


def history_context(request: HttpRequest, entry: QueryLog, feedback_form: FeedbackForm) -> dict:
    """The past answer with its citations, re-checked against the user's permissions today."""
    chunks = chunks_cited_for_user(user=request.user, chunk_ids=list(entry.chunk_ids or []))  # type: ignore[arg-type]
    numbers = {chunk_id: number for number, chunk_id in enumerate(entry.chunk_ids or [], start=1)}
    shown = partial(pii_mask_for_answers, schema_name=entry.tenant_schema)  # as the answer showed them
    citations = [
        {
            "number": numbers[chunk.pk],
            "chunk_id": chunk.pk,
            "document_id": chunk.document_id,
            "title": shown(chunk.document.title),
            "section": passage_label(shown(chunk.text), title=chunk.document.title),
            "excerpt": passage_excerpt(shown(chunk.text)),
            "url": source_url(document_id=chunk.document_id, chunk_id=chunk.pk),
        }
        for chunk in chunks
    ]
    withheld = bool(query_logs_withheld(user=request.user, entries=[entry]))
    return {"entry": entry, "citations": citations, "feedback_form": feedback_form, "withheld": withheld}
