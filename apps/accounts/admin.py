from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    """Django's user admin, with the service-account flag beside the other flags."""

    fieldsets = tuple(
        (name, {**options, "fields": (*options["fields"], "is_service_account")})
        if name == "Permissions"
        else (name, options)
        for name, options in UserAdmin.fieldsets or ()
    )
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_service_account")
    list_filter = ("is_staff", "is_superuser", "is_active", "is_service_account", "groups")
