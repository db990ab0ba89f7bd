"""Errors every layer may raise; surfaces translate them into responses."""


class PortalError(Exception):
    """Base class for the portal's own errors."""


class TenantContextRequired(PortalError):
    """Raised when tenant-scoped work is attempted without a tenant: we fail closed."""


class AdapterConfigurationError(PortalError):
    """A backend named in settings cannot be loaded or is misconfigured."""
