"""A middleware base that runs in Django's sync and async chains alike, without a thread hop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from .process_cache import process_cache_scope


class SyncAndAsyncMiddleware:
    """Subclasses wrap the rest of the chain in `around(request)` and may adjust the response in
    `respond`. Django calls it in whichever mode the next middleware runs in, so it never makes
    the request hop between the event loop and a thread."""

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
        with self.around(request):
            return self.respond(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        with self.around(request):
            return self.respond(request, await self.get_response(request))

    def around(self, request: HttpRequest) -> AbstractContextManager[object]:
        return nullcontext()

    def respond(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response


class ProcessCacheScopeMiddleware(SyncAndAsyncMiddleware):
    """A request reads each hot row once, and may read it from this process's memory
    (apps.core.process_cache). A streamed body runs after the middleware returned, outside the
    scope: it reads from the database."""

    def around(self, request: HttpRequest) -> AbstractContextManager[object]:
        return process_cache_scope()
