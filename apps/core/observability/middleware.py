"""Give every request an id (the caller's X-Request-ID when well-formed), log with it, return it."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

from django.http import HttpRequest, HttpResponse

from apps.core.middleware import SyncAndAsyncMiddleware

from .context import REQUEST_ID_HEADER, accepted_request_id, request_id_set


class RequestIdMiddleware(SyncAndAsyncMiddleware):
    """Outermost middleware. The id is set for the rest of the request's context and not reset on
    return: Django logs error responses (django.request) and sends streamed bodies after the
    middleware chain has returned, and those lines must carry the id too. Each ASGI request runs
    in its own task context; the next request simply sets its own id."""

    def around(self, request: HttpRequest) -> AbstractContextManager[object]:
        self._bind(request)
        return nullcontext()

    def respond(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
        return response

    @staticmethod
    def _bind(request: HttpRequest) -> str:
        request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
        # The tracing middleware (further in) copies it onto the request's span.
        request.request_id = request_id  # type: ignore[attr-defined]
        request_id_set(request_id)
        return request_id
