"""Compliance view of query history: read-only for everybody, with the sources each answer cited."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from apps.answers.models import QueryLog
from apps.audit.middleware import current_request
from apps.documents.models import Chunk, Document

from .base import ComplianceAdmin, DateRangeFilter


def cited_sources_html(document_ids: list[int], chunk_ids: list[int]) -> str:
    """Cited documents with their chunks, linked to the document admin for those allowed to open it."""
    request = current_request()
    documents = {document.pk: document for document in Document.objects.filter(pk__in=document_ids or [])}
    chunks_by_document: dict[int, list[int]] = {}
    for chunk_id, document_id in Chunk.objects.filter(pk__in=chunk_ids or []).values_list("pk", "document_id"):
        chunks_by_document.setdefault(document_id, []).append(chunk_id)
    may_open = request is not None and request.user.has_perm("documents.view_document")
    rows: list[tuple[str, ...]] = []
    for document_id in document_ids or []:
        document = documents.get(document_id)
        if document is None:
            rows.append((f"document {document_id} (deleted)", "", ""))
            continue
        chunks = ", ".join(f"#{chunk_id}" for chunk_id in sorted(chunks_by_document.get(document_id, [])))
        rows.append((document.title, document.source, chunks, _document_url(document) if may_open else ""))
    if not rows:
        return "—"
    return format_html(
        "<ul>{}</ul>",
        format_html_join(
            "",
            "<li>{}</li>",
            ((_source_item(*row),) for row in rows),
        ),
    )


def _source_item(title: str, source: str, chunks: str, url: str = "") -> str:
    label = format_html("<a href='{}'>{}</a>", url, title) if url else format_html("{}", title)
    return format_html("{} <small>{} {}</small>", label, source, f"chunks {chunks}" if chunks else "")


def _document_url(document: Document) -> str:
    try:
        return reverse("admin:documents_document_change", args=[document.pk])
    except NoReverseMatch:
        return ""


@admin.register(QueryLog)
class QueryLogAdmin(ComplianceAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "conversation",
        "outcome",
        "channel",
        "short_query",
        "model",
        "latency_ms",
    )
    list_filter = (
        ("user", admin.RelatedOnlyFieldListFilter),
        ("created_at", DateRangeFilter),
        "outcome",
        "channel",
        "provider",
    )
    search_fields = ("query", "standalone_query", "answer", "trace_id", "=conversation__id")
    list_select_related = ("user",)
    csv_fields = (
        "id",
        "created_at",
        "user_id",
        "conversation_id",
        "outcome",
        "reason",
        "channel",
        "query",
        "standalone_query",
        "answer",
        "document_ids",
        "chunk_ids",
        "provider",
        "model",
        "latency_ms",
        "ttft_ms",
        "input_tokens",
        "output_tokens",
        "trace_id",
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in QueryLog._meta.fields] + ["cited_sources"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = [field.name for field in QueryLog._meta.fields if field.name not in ("id", "chunk_ids")]
        return [*fields[:4], "cited_sources", *fields[4:]]

    @admin.display(description="question")
    def short_query(self, query_log: QueryLog) -> str:
        return query_log.query if len(query_log.query) <= 80 else query_log.query[:79] + "…"

    @admin.display(description="cited sources")
    def cited_sources(self, query_log: QueryLog) -> str:
        return cited_sources_html(query_log.document_ids, query_log.chunk_ids)
