"""History: the signed-in user's own questions, newest first, each with its answer and sources."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from apps.answers.evidence.text import passage_excerpt, passage_label
from apps.answers.models import QueryLog
from apps.answers.selectors import query_history_for_user, query_log_get_for_user, query_logs_withheld

from ..forms import FeedbackForm
from ..realtime.frames import source_url
from ..selectors import chunks_cited_for_user

QUESTIONS_PER_PAGE = 20


@login_required
def history(request: HttpRequest) -> HttpResponse:
    page = Paginator(query_history_for_user(user=request.user), QUESTIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "portal/history/list.html", {"page": page})


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
    citations = [
        {
            "number": numbers[chunk.pk],
            "chunk_id": chunk.pk,
            "document_id": chunk.document_id,
            "title": chunk.document.title,
            "section": passage_label(chunk.text, title=chunk.document.title),
            "excerpt": passage_excerpt(chunk.text),
            "url": source_url(document_id=chunk.document_id, chunk_id=chunk.pk),
        }
        for chunk in chunks
    ]
    withheld = bool(query_logs_withheld(user=request.user, entries=[entry]))
    return {"entry": entry, "citations": citations, "feedback_form": feedback_form, "withheld": withheld}
