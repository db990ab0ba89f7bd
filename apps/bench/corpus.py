"""Bulk ingestion of a BEIR-style corpus (evaluation and benchmarks) through the real pipeline.

Each corpus entry becomes one document whose external id is the entry's `_id`, written as
Markdown (`# title` then the text) so the title is part of what is chunked and embedded; an entry
naming a `file` uploads that file as it is.
Re-running is idempotent: entries whose content is already indexed are skipped.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

from django.db import connection

from apps.documents.acl import SUPERUSER, TENANT_WIDE
from apps.ingestion.graph_sync import documents_graph_sync
from apps.ingestion.models import IngestionJob
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, documents_upload, jobs_enqueue

EVALUATION_PRINCIPALS = (SUPERUSER, TENANT_WIDE)


def corpus_entry_upload(entry: dict) -> UploadedFile:
    if entry.get("file"):
        # A real file, uploaded as `manage.py ingest` would (its own parser, its name as title).
        path = Path(entry["file"])
        return UploadedFile(filename=path.name, data=path.read_bytes(), title=path.name, external_id=str(entry["_id"]))
    title = (entry.get("title") or "").strip()
    body = (entry.get("text") or "").strip()
    text = f"# {title}\n\n{body}" if title else body
    return UploadedFile(
        filename=f"{entry['_id']}.md",
        data=text.encode("utf-8"),
        title=title or str(entry["_id"]),
        external_id=str(entry["_id"]),
        declared_media_type="text/markdown",
    )


# The first upload transaction is kept small, so workers start on the first documents at once
# instead of waiting for a whole batch to be stored.
FIRST_BATCH_SIZE = 64


def _batches(items: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(items)
    next_size = min(size, FIRST_BATCH_SIZE)
    while batch := list(islice(iterator, next_size)):
        yield batch
        next_size = size


def corpus_ingest(
    *,
    entries: Iterable[dict],
    via_worker: bool = False,
    batch_size: int = 64,
    on_progress: Callable[[int], None] | None = None,
    poll_seconds: float = 0.5,
) -> Counter:
    """Ingest entries, tenant-wide visible; inline by default, or through Celery workers and wait."""
    outcomes: Counter = Counter()
    pending: list[str] = []
    for batch in _batches(entries, batch_size):
        jobs = documents_upload(
            uploads=[corpus_entry_upload(entry) for entry in batch],
            uploaded_by=None,
            visible_to_tenant=True,
            enqueue=False,
        )
        queued = [job for job in jobs if job.status == IngestionJob.Status.QUEUED]
        outcomes[IngestionJob.Status.SKIPPED] += len(jobs) - len(queued)
        if via_worker:
            jobs_enqueue(schema_name=connection.schema_name, jobs=queued)  # type: ignore[attr-defined]
            pending.extend(str(job.pk) for job in queued)
        elif queued:
            run = ingestion_jobs_run(job_ids=[str(job.pk) for job in queued])
            outcomes.update(job.status for job in run.jobs)
            outcomes["graph_failed"] += len(documents_graph_sync(document_ids=run.stored_document_ids))
        if on_progress and not via_worker:
            on_progress(len(batch))
    if via_worker:
        outcomes.update(_wait_for_jobs(pending, on_progress=on_progress, poll_seconds=poll_seconds))
    return outcomes


def _wait_for_jobs(job_ids: list[str], *, on_progress: Callable[[int], None] | None, poll_seconds: float) -> Counter:
    finished: Counter = Counter()
    remaining = set(job_ids)
    while remaining:
        done = dict(
            IngestionJob.objects.filter(pk__in=list(remaining), status__in=IngestionJob.FINISHED).values_list(
                "pk", "status"
            )
        )
        for job_id, status in done.items():
            remaining.discard(str(job_id))
            finished[status] += 1
        if on_progress and done:
            on_progress(len(done))
        if remaining:
            time.sleep(poll_seconds)
    return finished
