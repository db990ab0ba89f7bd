"""URLs served on the public schema's host: platform staff administer tenants here."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("health/", include("apps.health.urls")),
    path("admin/", admin.site.urls),
]
