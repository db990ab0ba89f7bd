from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest
from guardian.admin import GuardedModelAdmin
from guardian.forms import GroupObjectPermissionsForm, UserObjectPermissionsForm

from .models import Chunk, Document
from .selectors import document_managed_by, document_permission_held, documents_visible_to
from .services import (
    GRANTABLE_PERMISSIONS,
    document_access_grant,
    document_access_revoke,
    document_delete,
    document_visibility_set,
)
from .titles import document_title_set


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
    actor: Any = None  # the signed-in staff user (DocumentAdmin binds it per request)

    def principal(self) -> Any:
        raise NotImplementedError

    def get_obj_perms_field_choices(self) -> list:
        return [choice for choice in super().get_obj_perms_field_choices() if choice[0] in GRANTABLE_PERMISSIONS]  # type: ignore[misc]

    def save_obj_perms(self) -> None:
        wanted = set(self.cleaned_data[self.get_obj_perms_field_name()]) & GRANTABLE_PERMISSIONS  # type: ignore[attr-defined]
        held = set(self.get_obj_perms_field_initial()) & GRANTABLE_PERMISSIONS  # type: ignore[attr-defined]
        with transaction.atomic():
            if held - wanted:
                document_access_revoke(
                    document=self.obj, principal=self.principal(), permissions=sorted(held - wanted), actor=self.actor
                )
            if wanted - held:
                document_access_grant(
                    document=self.obj, principal=self.principal(), permissions=sorted(wanted - held), actor=self.actor
                )


class _UserPermissionsForm(_ServiceBackedPermissionsForm, UserObjectPermissionsForm):
    def principal(self) -> Any:
        return self.user


class _GroupPermissionsForm(_ServiceBackedPermissionsForm, GroupObjectPermissionsForm):
    def principal(self) -> Any:
        return self.group


@admin.register(Document)
class DocumentAdmin(GuardedModelAdmin):
    def get_obj_perms_manage_user_form(self, request: HttpRequest) -> Any:
        return type("UserPermissionsForm", (_UserPermissionsForm,), {"actor": request.user})

    def get_obj_perms_manage_group_form(self, request: HttpRequest) -> Any:
        return type("GroupPermissionsForm", (_GroupPermissionsForm,), {"actor": request.user})

    list_display = ("title", "media_type", "status", "graph_status", "visible_to_tenant", "uploaded_by", "created_at")
    list_filter = ("status", "graph_status", "media_type", "visible_to_tenant")
    search_fields = ("title", "source", "external_id")
    # Only the title and the tenant-wide visibility are edited here, each through its service; the
    # rest belongs to ingestion (content) and to the permission services (ACL).
    fields = (
        "title",
        "visible_to_tenant",
        "source",
        "external_id",
        "uploaded_by",
        "media_type",
        "status",
        "graph_status",
        "acl",
        "current_version",
        "content_hash",
        "size_bytes",
    )
    readonly_fields = tuple(name for name in fields if name not in ("title", "visible_to_tenant"))
    inlines = [ChunkInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # documents arrive through an upload (portal, API, manage.py ingest)

    def get_queryset(self, request: HttpRequest) -> Any:
        """Staff see in the admin what they may see anywhere else: the documents they may view (the
        list, each page and the object-permission pages all look documents up here)."""
        documents = super().get_queryset(request)
        if request.user.is_superuser:
            return documents
        return documents.filter(pk__in=documents_visible_to(user=request.user).values("pk"))  # type: ignore[arg-type]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        held = obj is None or document_permission_held(user=request.user, document=obj, permission="change_document")  # type: ignore[arg-type]
        return held and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        held = obj is None or document_permission_held(user=request.user, document=obj, permission="delete_document")  # type: ignore[arg-type]
        return held and super().has_delete_permission(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for document in queryset:
            if not self.has_delete_permission(request, document):
                raise PermissionDenied(f"You may not delete {document.title!r}.")
        for document in queryset:
            document_delete(document=document)

    def obj_perms_manage_view(self, request: HttpRequest, object_pk: str) -> Any:
        self._may_manage_viewers(request, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request: HttpRequest, object_pk: str, user_id: int) -> Any:
        self._may_manage_viewers(request, object_pk)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request: HttpRequest, object_pk: str, group_id: int) -> Any:
        self._may_manage_viewers(request, object_pk)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)

    def _may_manage_viewers(self, request: HttpRequest, object_pk: str) -> None:
        """Grants from the admin follow the portal's rule: only who manages a document they can see."""
        document = self.get_queryset(request).filter(pk=object_pk).first()
        if document is None:
            raise Http404("No such document.")
        if not document_managed_by(user=request.user, document=document):  # type: ignore[arg-type]
            raise PermissionDenied("Only the document's owners and tenant administrators manage its viewers.")

    def save_model(self, request: HttpRequest, obj: Document, form: Any, change: bool) -> None:
        """Writes through the services, so a visibility change recomputes the ACL of the document and
        its chunks at once and is audited, as from the portal or the API."""
        stored = Document.objects.get(pk=obj.pk)
        with transaction.atomic():
            if obj.title != stored.title:
                document_title_set(document=stored, title=obj.title)
            if obj.visible_to_tenant != stored.visible_to_tenant:
                document_visibility_set(document=stored, visible_to_tenant=obj.visible_to_tenant, actor=request.user)  # type: ignore[arg-type]

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        document_delete(document=obj)  # index version, grants and the graph node go with it
