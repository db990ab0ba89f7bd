"""/api/v1/: data plane (query, history, feedback, documents, jobs) and control plane (admin/)."""

from django.urls import path, re_path

from .apis import admin, directory, documents, meta, query

app_name = "api"

urlpatterns = [
    path("query", query.QueryApi.as_view(), name="query"),
    path("query/stream", query.QueryStreamApi.as_view(), name="query-stream"),
    path("query/agent", query.QueryAgentApi.as_view(), name="query-agent"),
    path("history", query.HistoryApi.as_view(), name="history"),
    path("conversations", query.ConversationListApi.as_view(), name="conversation-list"),
    path("conversations/<int:conversation_id>", query.ConversationApi.as_view(), name="conversation-detail"),
    path("feedback", query.FeedbackApi.as_view(), name="feedback"),
    path("documents", documents.DocumentListApi.as_view(), name="document-list"),
    path("documents/ingest", documents.IngestApi.as_view(), name="document-ingest"),
    path("documents/<int:document_id>", documents.DocumentApi.as_view(), name="document-detail"),
    path(
        "documents/<int:document_id>/permissions",
        documents.DocumentPermissionsApi.as_view(),
        name="document-permissions",
    ),
    path("jobs/<uuid:job_id>", documents.JobApi.as_view(), name="job-detail"),
    path("admin/api-keys", admin.ApiKeyListApi.as_view(), name="admin-api-key-list"),
    path("admin/api-keys/<int:key_id>", admin.ApiKeyApi.as_view(), name="admin-api-key-detail"),
    path("admin/settings", admin.TenantSettingsApi.as_view(), name="admin-settings"),
    path("admin/scim-tokens", directory.ScimTokenListApi.as_view(), name="admin-scim-token-list"),
    path("admin/scim-tokens/<int:token_id>", directory.ScimTokenApi.as_view(), name="admin-scim-token-detail"),
    path("schema/", meta.SchemaApi.as_view(), name="schema"),
    path("docs/", meta.SwaggerUi.as_view(url_name="api:schema"), name="docs"),
    # Every other path under /api/v1/, newlines included (`.` alone stops at one, and such a path
    # fell through to Django's HTML 404 page), gets the API's JSON error body.
    re_path(r"^[\s\S]*$", meta.UnknownPathApi.as_view(), name="unknown"),
]
