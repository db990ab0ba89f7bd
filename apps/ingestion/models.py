"""Ingestion jobs: one per uploaded version, durable, with a human-readable outcome."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class IngestionJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.SKIPPED)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    document = models.ForeignKey(
        "documents.Document", null=True, blank=True, on_delete=models.SET_NULL, related_name="ingestion_jobs"
    )
    version = models.ForeignKey(
        "documents.DocumentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="ingestion_jobs"
    )
    filename = models.CharField(max_length=1000)
    size_bytes = models.BigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True)
    stage = models.CharField(max_length=40, blank=True, help_text="what the job is doing now")
    progress = models.FloatField(default=0.0, help_text="0 to 1")
    attempts = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.TextField(blank=True, help_text="shown to the uploader; never contains file content")
    chunk_count = models.PositiveIntegerField(default=0)
    celery_task_id = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    queued_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last sign of life: enqueued, claimed by a worker, progress, a retry scheduled (then the
    # time it is due). An unfinished job silent for INGESTION_STALE_AFTER_SECONDS is requeued by
    # the reconciliation (apps/ingestion/reconcile.py); null on rows from before it: queued_at counts.
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    timings = models.JSONField(default=dict, blank=True, help_text="seconds per stage")

    class Meta:
        ordering = ["-queued_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
