"""The query log: one row per question asked, in the tenant's schema (roadmap 4.3), and the
conversations (threads) those questions belong to.

Query and answer are stored redacted when the tenant's PII policy is on; the raw text never
reaches this table or the logs. Feedback (apps.feedback) attaches to a row by its id.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    """A thread of questions. Every question starts one or continues one (QueryLog.conversation)."""

    # SET_NULL like QueryLog.user: erasure and retention remove threads explicitly.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    title = models.CharField(max_length=200, help_text="the first question, redacted like the query log")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True, help_text="when its last question was asked")
    # Removing a thread from one's history hides it; its questions stay in the query log, which
    # compliance relies on, until retention or erasure removes them.
    removed_at = models.DateTimeField(null=True, blank=True, help_text="when its owner removed it from History")

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["user", "-updated_at"], name="conversation_user_recent")]

    def __str__(self) -> str:
        return f"conversation {self.pk}"


class QueryLog(models.Model):
    class Outcome(models.TextChoices):
        ANSWERED = "answered", "Answered"
        REFUSED = "refused", "Refused (insufficient evidence or out of scope)"
        BLOCKED = "blocked", "Blocked by a safety control"
        TIMED_OUT = "timed_out", "Timed out"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled (the client went away)"

    # SET_NULL: the history outlives an account; erasure and retention remove rows explicitly.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="query_logs"
    )
    tenant_schema = models.CharField(max_length=63)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.CASCADE, related_name="turns"
    )
    query = models.TextField(help_text="redacted when the tenant's PII policy is on")
    standalone_query = models.TextField(
        blank=True, help_text="a follow-up rewritten from its thread into the question answered; redacted"
    )
    answer = models.TextField(blank=True, help_text="redacted when the tenant's PII policy is on")
    chunk_ids = models.JSONField(default=list, blank=True, help_text="chunks cited by the answer")
    document_ids = models.JSONField(default=list, blank=True, help_text="documents cited by the answer")
    model = models.CharField(max_length=200, blank=True)
    provider = models.CharField(max_length=100, blank=True)
    fallbacks = models.JSONField(default=list, blank=True, help_text='[{"provider": ..., "reason": ...}]')
    legs = models.JSONField(default=dict, blank=True, help_text="retrieval leg -> ok | timeout | error | skipped")
    latency_ms = models.FloatField(default=0.0)
    ttft_ms = models.FloatField(null=True, blank=True, help_text="time to the first answer token")
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    trace_id = models.CharField(max_length=64, blank=True, db_index=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, db_index=True)
    reason = models.CharField(max_length=200, blank=True, help_text="why it was refused, blocked or failed")
    question_kind = models.CharField(max_length=20, blank=True, help_text="the planner's classification")
    channel = models.CharField(max_length=20, default="api", help_text="api | portal | websocket | command")
    cached = models.BooleanField(default=False, help_text="served from the response cache")
    redactions = models.JSONField(default=dict, blank=True, help_text="PII kind -> count removed before storing")
    trace = models.JSONField(default=dict, blank=True, help_text="the execution trace: steps, timings, counts, no text")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="querylog_user_recent"),
            models.Index(fields=["conversation", "-created_at"], name="querylog_conversation_recent"),
        ]

    def __str__(self) -> str:
        return f"query {self.pk} ({self.outcome})"
