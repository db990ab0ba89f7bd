"""Feedback on answers (roadmap 4.4), in the tenant's schema.

A feedback row keeps a copy of the question, answer and cited chunks it rates: query history is
purged sooner (90 days by default) than feedback (365), and reviewed feedback becomes golden-set
cases that must still make sense then. Erasure (apps/compliance/erasure.py) clears these copies too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Feedback(models.Model):
    class Rating(models.IntegerChoices):
        HELPFUL = 1, "Helpful"
        NOT_HELPFUL = -1, "Not helpful"

    query = models.ForeignKey(
        "answers.QueryLog", null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="feedback"
    )
    rating = models.SmallIntegerField(choices=Rating.choices)
    comment = models.TextField(blank=True)
    corrected_answer = models.TextField(blank=True)
    flagged_chunk_ids = models.JSONField(default=list, blank=True, help_text="cited chunks the user says are wrong")
    # Copies taken from the query log when the feedback was given.
    question = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    cited_chunk_ids = models.JSONField(default=list, blank=True)
    cited_document_ids = models.JSONField(default=list, blank=True)
    # Review: a reviewed row becomes a golden-set case (export_golden_set).
    reviewed = models.BooleanField(default=False, db_index=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    must_contain = models.JSONField(default=list, blank=True, help_text="phrases a correct answer contains")
    must_not_contain = models.JSONField(default=list, blank=True, help_text="phrases a correct answer never contains")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "feedback"
        constraints = [
            models.CheckConstraint(condition=models.Q(rating__in=[1, -1]), name="feedback_rating_plus_or_minus_one"),
            models.UniqueConstraint(fields=["query", "user"], name="feedback_one_per_user_and_query"),
        ]

    def __str__(self) -> str:
        return f"feedback {self.pk} on query {self.query_id} ({self.get_rating_display()})"
