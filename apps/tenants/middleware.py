"""Per-request memo of tenant settings (apps.tenants.selectors.tenant_settings_memo)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from django.http import HttpRequest

from apps.core.middleware import SyncAndAsyncMiddleware

from .selectors import tenant_settings_memo


class TenantSettingsMemoMiddleware(SyncAndAsyncMiddleware):
    """A request reads each tenant's settings once however many services ask for them.

    A streamed body runs after the middleware returned, outside the memo: it reads from the
    database as before.
    """

    def around(self, request: HttpRequest) -> AbstractContextManager[object]:
        return tenant_settings_memo()
