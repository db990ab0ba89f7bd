"""The JSON frames the portal's sockets send, and their error codes with readable messages.

Every failure reaches the browser as `{"type": "error", "code": ..., "message": ...}`; the message
is in the language of the page (the language cookie, else Accept-Language), never a traceback.
"""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpRequest
from django.urls import get_script_prefix, reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from .middleware import scope_header

ERROR_MESSAGES = {
    "invalid_message": _("The message could not be read."),
    "invalid_question": _("Please enter a question."),
    "question_too_long": _("The question is too long (at most %(limit)s characters)."),
    "stream_busy": _("An answer is still streaming; wait for it or stop it first."),
    "too_many_streams": _("You have too many answers streaming at once (at most %(limit)s). Try again shortly."),
    "tenant_busy": _("Your company has too many answers streaming right now. Try again shortly."),
    "token_limit": _("The answer was cut off at its length limit."),
    "stream_timeout": _("The answer took too long and was stopped."),
    "heartbeat_timeout": _("The connection went quiet and was closed."),
    "idle_timeout": _("The connection was closed after a period of inactivity."),
    "slots_unavailable": _("Answers cannot be streamed right now. Please try again."),
    "timed_out": _("The answer took too long. Please try again."),
    "budget_exceeded": _("Your organisation's answer budget for today is used up."),
    "failed": _("The answer could not be produced. Please try again."),
    "internal_error": _("Something went wrong while answering. Please try again."),
    "unauthenticated": _("You were signed out. Sign in again to ask questions."),
    "rate_limited": _("You are asking questions too quickly. Try again in %(seconds)s s."),
    "no_such_conversation": _("That conversation is not in your history any more. Start a new one."),
    "tenant_moving": _("This workspace is being moved to another server. Nothing was changed; try again in a minute."),
}


def language_of(scope: dict) -> str:
    """The page's language for this socket: the same rules LocaleMiddleware applies to a page."""
    request = HttpRequest()
    request.COOKIES = scope.get("cookies", {})
    request.META["HTTP_ACCEPT_LANGUAGE"] = scope_header(scope, b"accept-language")
    return translation.get_language_from_request(request)


def error_frame(code: str, *, language: str, message: str = "", **params: object) -> dict:
    """An error frame; `message` (already readable) wins over the code's own text."""
    if not message:
        with translation.override(language):
            template = ERROR_MESSAGES.get(code, ERROR_MESSAGES["internal_error"])
            message = str(template) % params if params else str(template)
    return {"type": "error", "code": code, "message": message}


def source_url(*, document_id: int, chunk_id: int | None = None, script_prefix: str | None = None) -> str:
    """The document page, opened at the cited passage. `script_prefix`: get_script_prefix(), when the
    caller links many passages (it reads a context-local, slow on an event loop)."""
    url = object_url("portal:document_detail", document_id, script_prefix=script_prefix)
    return f"{url}?chunk={chunk_id}#chunk-{chunk_id}" if chunk_id else url


# An id no object has: reversed once, then replaced by the real id (see object_url).
_ID_PLACEHOLDER = 987654321


def object_url(name: str, object_id: int, *, script_prefix: str | None = None) -> str:
    """`reverse(name, args=[object_id])` for a URL with one integer id, without resolving it each time.

    `reverse()` costs tens of microseconds and ran on the event loop for every link of every answer;
    the URL around the id is resolved once per name (and script prefix: the portal's URLs carry no
    language prefix), so a new answer's query id costs no more than a document cited again.
    """
    before, after = _around_id(name, script_prefix or get_script_prefix())
    return f"{before}{int(object_id)}{after}"


@lru_cache(maxsize=64)
def _around_id(name: str, script_prefix: str) -> tuple[str, str]:
    before, found, after = reverse(name, args=[_ID_PLACEHOLDER]).partition(str(_ID_PLACEHOLDER))
    if not found:
        raise ValueError(f"{name} does not put its id in the path")
    return before, after


def citation_frame(data: dict) -> dict:
    return {
        "type": "citation",
        "number": data.get("number"),
        "chunk_id": data.get("chunk_id"),
        "document_id": data.get("document_id"),
        "title": data.get("title", ""),
        "section": data.get("section", ""),
        "excerpt": data.get("excerpt", ""),
        "url": source_url(document_id=data["document_id"], chunk_id=data.get("chunk_id")),
    }


def done_frame(result: dict) -> dict:
    """The finished answer for the page: no trace, no token accounting beyond what users see."""
    query_id = result.get("query_id")
    prefix = get_script_prefix()
    return {
        "type": "done",
        "query_id": query_id,
        "conversation_id": result.get("conversation_id"),
        "standalone_question": result.get("standalone_question", ""),
        "outcome": result.get("outcome", ""),
        "reason": result.get("reason", ""),
        "answer": result.get("answer", ""),
        "citations": [_linked(item, prefix) for item in result.get("citations", [])],
        "sources": [_linked(item, prefix) for item in result.get("sources", [])],
        "related": [_linked(item, prefix) for item in result.get("related", [])],
        "ttft_ms": result.get("ttft_ms"),
        "latency_ms": result.get("latency_ms"),
        "feedback_url": object_url("portal:feedback", query_id, script_prefix=prefix) if query_id else "",
        "history_url": object_url("portal:history_detail", query_id, script_prefix=prefix) if query_id else "",
    }


def _linked(item: dict, script_prefix: str) -> dict:
    document_id = item.get("document_id")
    if not document_id:
        return dict(item)
    url = source_url(document_id=document_id, chunk_id=item.get("chunk_id"), script_prefix=script_prefix)
    return {**item, "url": url}
