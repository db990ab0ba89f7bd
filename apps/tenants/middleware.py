"""The tenant of a request, by host name."""

from __future__ import annotations

from django_tenants.middleware.main import TenantMainMiddleware

from .models import Domain, Tenant
from .selectors import active_tenant_for_hostname


class TenantByHostMiddleware(TenantMainMiddleware):
    """django-tenants' middleware, failing closed on inactive tenants (their hosts answer 404, as
    unknown ones do) and reading the host's tenant through the process cache."""

    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Tenant:
        tenant = active_tenant_for_hostname(hostname)
        if tenant is None:
            raise domain_model.DoesNotExist(hostname)
        return tenant
