"""Compliance view of feedback, and the feedback review for tenant admins.

Feedback is read-only for the Compliance group (view permission only); users with the change
permission (tenant admins) review it: the phrases its golden-set case checks and the reviewed flag,
nothing else.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.accounts.models import User
from apps.feedback.models import Feedback
from apps.feedback.services import feedback_review, review_phrases_problem

from .base import ComplianceAdmin, DateRangeFilter
from .query_history import cited_sources_html


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
