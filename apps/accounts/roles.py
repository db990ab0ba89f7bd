"""The groups every tenant starts with."""

EMPLOYEES_GROUP = "Employees"
TENANT_ADMINS_GROUP = "Tenant admins"
COMPLIANCE_GROUP = "Compliance"

DEFAULT_GROUPS = (EMPLOYEES_GROUP, TENANT_ADMINS_GROUP, COMPLIANCE_GROUP)
