"""Users and groups in the Django admin, under the portal's delegation rule: whoever edits a user or
a group never gives anyone more than they hold themselves.

Django's stock admins let any staff user with `change_user` tick `is_superuser` on their own
account, or `is_service_account` on a colleague and then mint an API key acting as her (third
attack pass); with `change_group`, add permissions to a group they are in, or rename their own
group "Tenant admins" (roles are groups found by name); reset a colleague's password and sign in
as her. For anybody but a superuser: the privilege flags, direct permissions, and another user's
e-mail address are read-only; nobody else's password can be set; a superuser's account cannot be
changed or deleted; people can be added only to groups the editor belongs to; a group's name and
permissions are read-only, and the role groups cannot be deleted.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from .models import User
from .roles import DEFAULT_GROUPS

PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "is_service_account", "user_permissions")
# Another user's address (a password reset by e-mail goes wherever it points) and user name (what an
# identity provider's token names: renaming a colleague to your own name makes your tokens hers).
ACCOUNT_FIELDS = ("username", "email")


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
            if obj is not None and obj.pk != request.user.pk:
                fields += ACCOUNT_FIELDS
        return fields

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        """Only superusers set someone else's password: whoever sets it can sign in as that person."""
        if not request.user.is_superuser and str(request.user.pk) != str(id):
            raise PermissionDenied("Only a superuser sets another user's password; they reset their own.")
        return super().user_change_password(request, id, form_url)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_touch(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only superusers delete accounts: a deleted user name made again is whoever makes it, and an
        # identity provider's tokens name users by user name. Others deactivate (erasure is
        # `erase_user`, which keeps the audit trail's references).
        return request.user.is_superuser and super().has_delete_permission(request, obj)

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
    """Django's group admin; only a superuser changes what a group may do or is called (a role is a
    group found by its name), or deletes a role group."""

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["permissions"] if obj is None else ["name", "permissions"]
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        role = obj is not None and obj.name in DEFAULT_GROUPS
        return (not role or request.user.is_superuser) and super().has_delete_permission(request, obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.user.is_superuser or obj is not None:
            return form
        return _new_group_names_not_roles(form)


def _new_group_names_not_roles(form: type[forms.ModelForm]) -> type[forms.ModelForm]:
    class NewGroupForm(form):  # type: ignore[valid-type,misc]
        def clean_name(self):
            name = self.cleaned_data["name"]
            if name.strip() in DEFAULT_GROUPS:
                raise forms.ValidationError("That name is a role's; only a superuser creates role groups.")
            return name

    return NewGroupForm
