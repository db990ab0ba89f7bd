"""Per-request memo of tenant settings (apps.tenants.selectors.tenant_settings_memo)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from .selectors import tenant_settings_memo


class TenantSettingsMemoMiddleware:
    """A request reads each tenant's settings once however many services ask for them.

    A streamed body runs after the middleware returned, outside the memo: it reads from the
    database as before.
    """

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
        with tenant_settings_memo():
            return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        with tenant_settings_memo():
            return await self.get_response(request)
