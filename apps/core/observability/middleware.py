"""Give every request an id (the caller's X-Request-ID when well-formed), log with it, return it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from .context import REQUEST_ID_HEADER, accepted_request_id, request_id_set


class RequestIdMiddleware:
    """Outermost middleware. The id is set for the rest of the request's context and not reset on
    return: Django logs error responses (django.request) and sends streamed bodies after the
    middleware chain has returned, and those lines must carry the id too. Each ASGI request runs
    in its own task context; the next request simply sets its own id."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        request_id = self._bind(request)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        request_id = self._bind(request)
        response = await self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response

    @staticmethod
    def _bind(request: HttpRequest) -> str:
        request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
        # The tracing middleware (further in) copies it onto the request's span.
        request.request_id = request_id  # type: ignore[attr-defined]
        request_id_set(request_id)
        return request_id
