"""Follow document and tenant changes into the graph (documents cannot import ingestion: it signals)."""

from __future__ import annotations

import time

from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django_tenants.utils import get_public_schema_name

from apps.documents.signals import document_acl_changed, document_deleted
from apps.integrations.graph.knowledge import graph_tenant_clear
from apps.tenants.models import Tenant


@receiver(document_acl_changed)
def graph_follows_acl_change(*, schema_name: str, document_id: int, acl: list[str], **_kwargs) -> None:
    from .tasks import sync_document_graph_acl  # imported late: tasks pull in the whole pipeline

    # Sent on commit: the permission changed now; the task measures how long the graph lags behind.
    # The task carries ids only and reads the ACL itself (task arguments land in the broker and the
    # result store; an ACL names users and groups, and the one read at run time is the newest).
    sync_document_graph_acl.delay(schema_name=schema_name, document_id=document_id, changed_at=time.time())


@receiver(document_deleted)
def graph_follows_delete(*, schema_name: str, document_id: int, **_kwargs) -> None:
    from .tasks import delete_document_graph

    delete_document_graph.delay(schema_name=schema_name, document_id=document_id)


@receiver(pre_delete, sender=Tenant, dispatch_uid="ingestion.graph_follows_tenant_delete")
def graph_follows_tenant_delete(*, instance: Tenant, **_kwargs) -> None:
    """A deleted company's graph goes with it, before the row does.

    Synchronously: a tenant created again under the same schema name would otherwise find the old
    graph (its chunk and document ids restart at 1, so old nodes would pass for new ones), and an
    erasure must not leave entities behind. If the graph store is unreachable the deletion fails
    and can be retried.
    """
    if instance.schema_name and instance.schema_name != get_public_schema_name():
        graph_tenant_clear(tenant=instance.schema_name)
