"""Errors every layer may raise; surfaces translate them into responses."""


class PortalError(Exception):
    """Base class for the portal's own errors."""


class TenantContextRequired(PortalError):
    """Raised when tenant-scoped work is attempted without a tenant: we fail closed."""


class AdapterConfigurationError(PortalError):
    """A backend named in settings cannot be loaded or is misconfigured."""


# A database that cannot be reached is an outage, not a bug: pages and the API answer 503 with this.
DATABASE_UNAVAILABLE_MESSAGE = "The service is temporarily unavailable (database unreachable). Please retry shortly."
DATABASE_RETRY_AFTER_SECONDS = 5
