"""Compliance views of query history and feedback, and the feedback review for tenant admins.

Query history is read-only for everybody. Feedback is read-only for the Compliance group (view
permission only); users with the change permission (tenant admins) review it: the phrases its
golden-set case checks and the reviewed flag, nothing else.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join

from apps.accounts.models import User
from apps.answers.models import QueryLog
from apps.audit.compliance_admin import ComplianceAdmin, DateRangeFilter
from apps.audit.middleware import current_request
from apps.documents.models import Chunk, Document

from .models import Feedback
from .services import feedback_review, review_phrases_problem


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


class FeedbackReviewForm(forms.ModelForm):
    class Meta:
        model = Feedback
        fields = ("must_contain", "must_not_contain")
        help_texts = {
            "must_contain": 'JSON list of phrases, e.g. ["30 days", "full refund"]',
            "must_not_contain": 'JSON list of phrases, e.g. ["no refunds"]',
        }

    def clean_must_contain(self) -> list[str]:
        return self._phrases("must_contain")

    def clean_must_not_contain(self) -> list[str]:
        return self._phrases("must_not_contain")

    def _phrases(self, name: str) -> list[str]:
        value = self.cleaned_data.get(name) or []
        problem = review_phrases_problem(value)
        if problem:
            raise forms.ValidationError(problem)
        return value


@admin.register(Feedback)
class FeedbackAdmin(ComplianceAdmin):
    form = FeedbackReviewForm
    list_display = ("id", "created_at", "user", "rating", "reviewed", "query_id", "short_comment")
    list_filter = (
        ("user", admin.RelatedOnlyFieldListFilter),
        ("created_at", DateRangeFilter),
        "rating",
        "reviewed",
    )
    search_fields = ("comment", "corrected_answer", "question")
    list_select_related = ("user",)
    actions = ["export_selected_csv", "mark_reviewed"]
    review_fields = ("must_contain", "must_not_contain")
    csv_fields = (
        "id",
        "created_at",
        "user_id",
        "query_id",
        "rating",
        "comment",
        "corrected_answer",
        "flagged_chunk_ids",
        "question",
        "answer",
        "cited_document_ids",
        "reviewed",
        "reviewed_by_id",
        "reviewed_at",
        "must_contain",
        "must_not_contain",
    )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return admin.ModelAdmin.has_change_permission(self, request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        editable = self.review_fields if self.has_change_permission(request, obj) else ()
        return [field.name for field in Feedback._meta.fields if field.name not in editable] + ["cited_sources"]

    @admin.display(description="comment")
    def short_comment(self, feedback: Feedback) -> str:
        return feedback.comment[:80]

    @admin.display(description="cited sources")
    def cited_sources(self, feedback: Feedback) -> str:
        return cited_sources_html(feedback.cited_document_ids, feedback.cited_chunk_ids)

    def save_model(self, request: HttpRequest, obj: Feedback, form: Any, change: bool) -> None:
        """Saving the form is the review (the form validated the phrases)."""
        feedback_review(
            feedback=obj,
            reviewer=cast(User, request.user),
            must_contain=form.cleaned_data.get("must_contain"),
            must_not_contain=form.cleaned_data.get("must_not_contain"),
        )

    @admin.action(description="Mark selected feedback reviewed", permissions=["change"])
    def mark_reviewed(self, request: HttpRequest, queryset: QuerySet) -> None:
        for feedback in queryset.filter(reviewed=False):
            feedback_review(feedback=feedback, reviewer=cast(User, request.user))
            # One admin log entry per row, saved one by one, so each is also a chained audit event.
            self.log_change(request, feedback, [{"changed": {"fields": ["reviewed"]}}])
        self.message_user(request, "Marked reviewed.")
