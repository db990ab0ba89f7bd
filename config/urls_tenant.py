"""URLs served on a tenant's host (e.g. demo.localhost)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("health/", include("apps.health.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("apps.api.urls")),
    # SCIM 2.0 provisioning by the tenant's identity provider (docs/identity.md).
    path("scim/v2/", include("apps.api.scim.urls")),
    # The employee portal: pages at the root of the tenant's host (last: everything above wins).
    path("", include("apps.portal.urls")),
]

# A database outage is answered with 503 and a clear message, never a bare 500.
handler500 = "apps.health.views.server_error"
