"""SCIM 2.0 provisioning (RFC 7643/7644) of a tenant's users and groups by its identity provider.

Our own, on DRF, rather than django-scim2: that package maps SCIM onto one user model through
adapters we would rewrite anyway (directory identities, role groups the directory may not touch,
deprovisioning that ends sessions, sockets and keys), authenticates through Django's session
middleware rather than a per-tenant bearer token, and leaves PATCH to the adapter. What identity
providers send is small: filters of `attribute eq "value"`, PATCH with and without paths (Okta,
Entra ID), paging by startIndex and count. docs/identity.md lists what is supported.
"""
