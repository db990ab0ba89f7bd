"""Users and groups in the Django admin, under the portal's delegation rule: whoever edits a user or
a group never gives anyone more than they hold themselves.

Django's stock admins let any staff user with `change_user` tick `is_superuser` on their own
account, or `is_service_account` on a colleague and then mint an API key acting as her (third
attack pass); with `change_group`, add permissions to a group they are in. For anybody but a
superuser: the privilege flags and direct permissions are read-only, a superuser's account cannot
be changed (its password included) or deleted, people can be added only to groups the editor
belongs to, and a group's permissions are read-only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from .models import User

PRIVILEGE_FIELDS = ("is_superuser", "is_service_account", "user_permissions")


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

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += PRIVILEGE_FIELDS
        return fields

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_touch(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_touch(request, obj) and super().has_delete_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.user.is_superuser or "groups" not in form.base_fields:
            return form
        return _groups_limited_to_the_editors(form, editor=request.user)


def _may_touch(request: HttpRequest, obj: Any) -> bool:
    """Only a superuser changes, resets the password of, or deletes a superuser."""
    return obj is None or not obj.is_superuser or request.user.is_superuser


def _groups_limited_to_the_editors(form: type[forms.ModelForm], *, editor: Any) -> type[forms.ModelForm]:
    editor_groups = set(editor.groups.values_list("pk", flat=True))

    class GroupsLimitedForm(form):  # type: ignore[valid-type,misc]
        def clean_groups(self):
            chosen = self.cleaned_data["groups"]
            before = set(self.instance.groups.values_list("pk", flat=True)) if self.instance.pk else set()
            if {group.pk for group in chosen} - before - editor_groups:
                raise forms.ValidationError(
                    "You can add people only to groups you belong to yourself; ask a superuser for the others."
                )
            return chosen

    return GroupsLimitedForm


admin.site.unregister(Group)


@admin.register(Group)
class PortalGroupAdmin(GroupAdmin):
    """Django's group admin; only a superuser changes what a group may do."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields.append("permissions")
        return fields
