"""Follow document changes into the graph (documents cannot import ingestion: it signals)."""

from __future__ import annotations

import time

from django.dispatch import receiver

from apps.documents.signals import document_acl_changed, document_deleted


@receiver(document_acl_changed)
def graph_follows_acl_change(*, schema_name: str, document_id: int, acl: list[str], **_kwargs) -> None:
    from .tasks import sync_document_graph_acl  # imported late: tasks pull in the whole pipeline

    # Sent on commit: the permission changed now; the task measures how long the graph lags behind.
    sync_document_graph_acl.delay(schema_name=schema_name, document_id=document_id, acl=acl, changed_at=time.time())


@receiver(document_deleted)
def graph_follows_delete(*, schema_name: str, document_id: int, **_kwargs) -> None:
    from .tasks import delete_document_graph

    delete_document_graph.delay(schema_name=schema_name, document_id=document_id)
