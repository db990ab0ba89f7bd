"""The tenant of a request (by host name), and a per-request memo of tenant settings."""

from __future__ import annotations

from contextlib import AbstractContextManager

from django.http import HttpRequest
from django_tenants.middleware.main import TenantMainMiddleware

from apps.core.middleware import SyncAndAsyncMiddleware

from .models import Domain, Tenant
from .selectors import active_tenant_for_hostname, tenant_settings_memo


class TenantByHostMiddleware(TenantMainMiddleware):
    """django-tenants' middleware, failing closed on inactive tenants (their hosts answer 404, as
    unknown ones do) and reading the host's tenant through the process cache."""

    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Tenant:
        tenant = active_tenant_for_hostname(hostname)
        if tenant is None:
            raise domain_model.DoesNotExist(hostname)
        return tenant


class TenantSettingsMemoMiddleware(SyncAndAsyncMiddleware):
    """A request reads each tenant's settings once however many services ask for them.

    A streamed body runs after the middleware returned, outside the memo: it reads from the
    database as before.
    """

    def around(self, request: HttpRequest) -> AbstractContextManager[object]:
        return tenant_settings_memo()
