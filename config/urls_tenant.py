"""URLs served on a tenant's host (e.g. demo.localhost)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("health/", include("apps.health.urls")),
    path("admin/", admin.site.urls),
]
