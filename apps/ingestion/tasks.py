"""Celery tasks: thin wrappers that enter the tenant and call one service."""

from __future__ import annotations

import logging
import random
import time

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from apps.core.metrics import permission_change_effect_seconds
from apps.tenants.context import in_tenant, runs_in_tenant
from apps.tenants.fan_out import tenants_fan_out
from apps.tenants.freeze import FROZEN_RETRY_AFTER_SECONDS, tenant_write_state

from .graph_sync import document_graph_acl_sync, document_graph_delete, documents_graph_sync
from .pipeline import IngestionRun, TransientIngestionError, ingestion_jobs_run, jobs_give_up, jobs_note_retry
from .reconcile import ingestion_reconcile

logger = logging.getLogger(__name__)


def retry_countdown(retries: int) -> float:
    """Exponential backoff with jitter, bounded, so a recovering dependency is not stampeded."""
    base = settings.INGESTION_RETRY_BACKOFF_SECONDS * (2**retries)
    return min(base, settings.INGESTION_RETRY_BACKOFF_MAX_SECONDS) * random.uniform(0.8, 1.2)  # noqa: S311


def waits_for_move(task, *, schema_name: str) -> bool:
    """Whether this delivery must not run now. A tenant being moved to another shard sends the task
    again later (nothing fails, nothing is written meanwhile); a tenant this shard no longer holds
    drops it: its new shard resumes the unfinished work it was copied with (apps/compliance/tenant_moves)."""
    state = tenant_write_state(schema_name)
    if state == "frozen":
        task.apply_async(kwargs=task.request.kwargs, countdown=FROZEN_RETRY_AFTER_SECONDS)
        return True
    if state == "absent":
        logger.info("task %s dropped: tenant %s is not on this shard", task.name, schema_name)
        return True
    return False


@shared_task(bind=True, name="apps.ingestion.tasks.ingest_jobs", acks_late=True, reject_on_worker_lost=True)
def ingest_jobs(self, *, schema_name: str, job_ids: list[str]) -> None:
    if waits_for_move(self, schema_name=schema_name):
        return
    try:
        run = _ingest_in_tenant(self, schema_name=schema_name, job_ids=job_ids)
    except (OperationalError, InterfaceError) as error:
        # The database itself is unreachable (entering the tenant, or noting a retry, failed): retry
        # without writing anything. Past the retries the jobs stay unfinished, and the
        # reconciliation requeues them once they have been silent long enough.
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries), max_retries=None) from error
    if run is None:
        return
    if run.stored_document_ids:
        # Searchable already through the dense and keyword legs; the graph follows on its own queue.
        sync_documents_graph.delay(schema_name=schema_name, document_ids=run.stored_document_ids)


def _ingest_in_tenant(task, *, schema_name: str, job_ids: list[str]) -> IngestionRun | None:
    with in_tenant(schema_name):
        try:
            return ingestion_jobs_run(job_ids=job_ids)
        except TransientIngestionError as error:
            attempts = task.request.retries + 1
            if attempts >= settings.INGESTION_MAX_ATTEMPTS:
                jobs_give_up(job_ids=job_ids, reason=f"Gave up after {attempts} attempts: {error}")
                return None
            countdown = retry_countdown(task.request.retries)
            jobs_note_retry(job_ids=job_ids, reason=str(error), countdown=countdown)
            raise task.retry(exc=error, countdown=countdown, max_retries=settings.INGESTION_MAX_ATTEMPTS) from error


@shared_task(bind=True, name="apps.ingestion.tasks.sync_documents_graph", acks_late=True, max_retries=5)
def sync_documents_graph(self, *, schema_name: str, document_ids: list[int]) -> None:
    if waits_for_move(self, schema_name=schema_name):
        return
    with in_tenant(schema_name):
        failed = documents_graph_sync(document_ids=document_ids)
    if failed:
        raise self.retry(
            countdown=retry_countdown(self.request.retries), kwargs={"schema_name": schema_name, "document_ids": failed}
        )


@shared_task(
    bind=True,
    name="apps.ingestion.tasks.sync_document_graph_acl",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def sync_document_graph_acl(
    self, *, schema_name: str, document_id: int, changed_at: float | None = None, **_legacy
) -> None:
    # `_legacy`: a task queued by the previous version still carries `acl`; it is ignored, the ACL is read now.
    if waits_for_move(self, schema_name=schema_name):
        return
    with in_tenant(schema_name):
        document_graph_acl_sync(document_id=document_id)
    if changed_at is not None:
        permission_change_effect_seconds.labels(store="graph").observe(max(0.0, time.time() - changed_at))


@shared_task(
    bind=True,
    name="apps.ingestion.tasks.delete_document_graph",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=True,
    max_retries=5,
)
def delete_document_graph(self, *, schema_name: str, document_id: int) -> None:
    if waits_for_move(self, schema_name=schema_name):
        return
    with in_tenant(schema_name):
        document_graph_delete(document_id=document_id)


@shared_task(name="apps.ingestion.tasks.reconcile_ingestion_all_tenants")
def reconcile_ingestion_all_tenants() -> int:
    return tenants_fan_out(reconcile_ingestion_for_tenant)


@shared_task(name="apps.ingestion.tasks.reconcile_ingestion_for_tenant")
@runs_in_tenant
def reconcile_ingestion_for_tenant(*, schema_name: str) -> dict:
    done = ingestion_reconcile()
    return {"schema_name": schema_name, **done.__dict__}
