from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from .models import Chunk, Document


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ("ordinal", "heading_path", "token_count", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(GuardedModelAdmin):
    list_display = ("title", "media_type", "status", "graph_status", "visible_to_tenant", "uploaded_by", "created_at")
    list_filter = ("status", "graph_status", "media_type", "visible_to_tenant")
    search_fields = ("title", "source", "external_id")
    readonly_fields = ("content_hash", "size_bytes", "status", "graph_status", "acl", "current_version", "media_type")
    exclude = ("metadata",)
    inlines = [ChunkInline]
