"""URLs served on the public schema's host: platform staff administer tenants here."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("health/", include("apps.health.urls")),
    path("admin/", admin.site.urls),
    # API keys and tokens name their tenant, so integrations can call the platform host directly.
    path("api/v1/", include("apps.api.urls")),
]

# A database outage is answered with 503 and a clear message, never a bare 500.
handler500 = "apps.health.views.server_error"
