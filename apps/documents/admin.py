from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from guardian.admin import GuardedModelAdmin
from guardian.forms import GroupObjectPermissionsForm, UserObjectPermissionsForm

from .models import Chunk, Document
from .services import GRANTABLE_PERMISSIONS, document_access_grant, document_access_revoke


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ("ordinal", "heading_path", "token_count", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class _ServiceBackedPermissionsForm:
    """The admin's object permission forms write through the document services, so a grant or
    revoke made here recomputes the ACL of the document and its chunks and is audited (acl.grant /
    acl.revoke, actor: the signed-in admin), exactly like one made through the API."""

    obj: Any
    cleaned_data: dict

    def principal(self) -> Any:
        raise NotImplementedError

    def get_obj_perms_field_choices(self) -> list:
        return [choice for choice in super().get_obj_perms_field_choices() if choice[0] in GRANTABLE_PERMISSIONS]  # type: ignore[misc]

    def save_obj_perms(self) -> None:
        wanted = set(self.cleaned_data[self.get_obj_perms_field_name()]) & GRANTABLE_PERMISSIONS  # type: ignore[attr-defined]
        held = set(self.get_obj_perms_field_initial()) & GRANTABLE_PERMISSIONS  # type: ignore[attr-defined]
        with transaction.atomic():
            if held - wanted:
                document_access_revoke(document=self.obj, principal=self.principal(), permissions=sorted(held - wanted))
            if wanted - held:
                document_access_grant(document=self.obj, principal=self.principal(), permissions=sorted(wanted - held))


class _UserPermissionsForm(_ServiceBackedPermissionsForm, UserObjectPermissionsForm):
    def principal(self) -> Any:
        return self.user


class _GroupPermissionsForm(_ServiceBackedPermissionsForm, GroupObjectPermissionsForm):
    def principal(self) -> Any:
        return self.group


@admin.register(Document)
class DocumentAdmin(GuardedModelAdmin):
    def get_obj_perms_manage_user_form(self, request: HttpRequest) -> Any:
        return _UserPermissionsForm

    def get_obj_perms_manage_group_form(self, request: HttpRequest) -> Any:
        return _GroupPermissionsForm

    list_display = ("title", "media_type", "status", "graph_status", "visible_to_tenant", "uploaded_by", "created_at")
    list_filter = ("status", "graph_status", "media_type", "visible_to_tenant")
    search_fields = ("title", "source", "external_id")
    readonly_fields = ("content_hash", "size_bytes", "status", "graph_status", "acl", "current_version", "media_type")
    exclude = ("metadata",)
    inlines = [ChunkInline]
