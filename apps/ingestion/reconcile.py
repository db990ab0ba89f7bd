"""Nothing stuck: jobs nobody holds are requeued, and the graph catches up with PostgreSQL.

A job can be left unfinished by anything that kills its task between claim and finish: a worker
killed with SIGKILL (the broker redelivers only after its visibility timeout, an hour), a database
or broker outage longer than the task's retries, an enqueue lost after its transaction committed.
Every minute (Celery beat, `reconcile-ingestion`) each tenant's unfinished jobs silent for longer
than INGESTION_STALE_AFTER_SECONDS are enqueued again (a job is idempotent: a second delivery of a
finished or superseded one changes nothing); a job requeued INGESTION_MAX_ATTEMPTS times fails with
the reason. Indexed documents whose graph sync failed, or is still pending long after indexing
(its task was lost), are sent to the graph queue again, a bounded batch per run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from apps.documents.models import Document
from apps.tenants.context import current_tenant_schema

from .models import IngestionJob
from .pipeline import jobs_give_up
from .services import jobs_enqueue

logger = logging.getLogger(__name__)

UNFINISHED = (IngestionJob.Status.QUEUED, IngestionJob.Status.RUNNING)
GRAPH_BATCH = 50
GRAPH_BATCHES_PER_RUN = 10


@dataclass(frozen=True)
class Reconciliation:
    requeued: int
    given_up: int
    graph_resent: int


def ingestion_reconcile() -> Reconciliation:
    """Run in the tenant's schema; what was requeued, given up and sent to the graph again."""
    requeued, given_up = _stale_jobs_revive()
    return Reconciliation(requeued=requeued, given_up=given_up, graph_resent=_graph_catch_up())


def ingestion_resume_everything() -> dict[str, int]:
    """After a move (apps/compliance/tenant_moves): every job copied queued, and every document whose
    graph was still pending, is sent on now, without waiting to look stale (their messages were in
    the other shard's broker)."""
    from .tasks import sync_documents_graph  # tasks import this module's neighbours

    queued = list(IngestionJob.objects.filter(status__in=UNFINISHED).order_by("queued_at"))
    IngestionJob.objects.filter(pk__in=[job.pk for job in queued]).update(
        status=IngestionJob.Status.QUEUED, stage="queued again after a move"
    )
    if queued:
        jobs_enqueue(schema_name=current_tenant_schema(), jobs=queued)
    pending = list(
        Document.objects.filter(status=Document.Status.INDEXED)
        .exclude(graph_status=Document.GraphStatus.SYNCED)
        .values_list("pk", flat=True)
    )
    for start in range(0, len(pending), GRAPH_BATCH):
        sync_documents_graph.delay(
            schema_name=current_tenant_schema(), document_ids=pending[start : start + GRAPH_BATCH]
        )
    return {"jobs_requeued": len(queued), "graph_resent": len(pending)}


def _stale_jobs_revive() -> tuple[int, int]:
    cutoff = timezone.now() - timedelta(seconds=settings.INGESTION_STALE_AFTER_SECONDS)
    stale = IngestionJob.objects.filter(status__in=UNFINISHED).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, queued_at__lt=cutoff)
    )
    exhausted = [
        str(pk) for pk in stale.filter(attempts__gte=settings.INGESTION_MAX_ATTEMPTS).values_list("pk", flat=True)
    ]
    if exhausted:
        jobs_give_up(
            job_ids=exhausted,
            reason=f"Gave up after {settings.INGESTION_MAX_ATTEMPTS} attempts: the work stopped each time "
            "without finishing (a worker was lost or a dependency stayed down). Upload the file again.",
        )
    revived = list(stale.exclude(pk__in=exhausted).order_by("queued_at"))
    if revived:
        # Queued again before enqueueing: a worker that is only slow finds its job no longer running
        # when it stores, and leaves it to the new delivery (pipeline._store).
        IngestionJob.objects.filter(pk__in=[job.pk for job in revived]).update(
            status=IngestionJob.Status.QUEUED, stage="requeued after a stall"
        )
        jobs_enqueue(schema_name=current_tenant_schema(), jobs=revived)
        logger.warning(
            "requeued %d stalled ingestion jobs", len(revived), extra={"tenant_schema": current_tenant_schema()}
        )
    return len(revived), len(exhausted)


def _graph_catch_up() -> int:
    from .tasks import sync_documents_graph  # tasks import this module's neighbours

    lagging = timezone.now() - timedelta(seconds=settings.GRAPH_STALE_AFTER_SECONDS)
    behind = list(
        Document.objects.filter(status=Document.Status.INDEXED)
        .filter(
            Q(graph_status=Document.GraphStatus.FAILED)
            | Q(graph_status=Document.GraphStatus.PENDING, updated_at__lt=lagging)
        )
        .order_by("updated_at")
        .values_list("pk", flat=True)[: GRAPH_BATCH * GRAPH_BATCHES_PER_RUN]
    )
    for start in range(0, len(behind), GRAPH_BATCH):
        sync_documents_graph.delay(
            schema_name=current_tenant_schema(), document_ids=behind[start : start + GRAPH_BATCH]
        )
    return len(behind)
