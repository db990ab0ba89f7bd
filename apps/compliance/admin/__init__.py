"""The compliance views in the Django admin: audit trail, query history, feedback, tenant settings.

Every view but the tenant settings is read-only and exports its filtered list as CSV (base.py).
"""

from . import audit_trail, feedback, query_history, tenant_settings  # noqa: F401 - each registers its admins
