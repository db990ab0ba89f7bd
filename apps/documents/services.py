"""Writes on documents, versions, chunks and permissions. Call inside the tenant's schema.

Every permission change recomputes the ACL principals of the document and of all its chunks in
the same transaction, and bumps the index version, so the next query sees it (invariant 2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial

from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import Max, Sum
from guardian.shortcuts import assign_perm, remove_perm

from apps.accounts.models import User
from apps.audit.services import audit_event_record
from apps.core.errors import PortalError

from .acl import TENANT_WIDE, acl_for_document, acl_for_new_document, acls_for_documents
from .index_state import index_version_bump
from .models import Chunk, Document, DocumentVersion, KeywordPosting
from .selectors import document_grants_allowed, document_revokes_allowed
from .signals import document_acl_changed, document_deleted

OWNER_PERMISSIONS = ("view_document", "change_document", "delete_document")
GRANTABLE_PERMISSIONS = frozenset(OWNER_PERMISSIONS)


class VersionSuperseded(PortalError):
    """A newer version of the document is indexed already; an older one must not replace it."""


@dataclass(frozen=True)
class ChunkToStore:
    ordinal: int
    text: str
    heading_path: list[str]
    char_start: int
    char_end: int
    token_count: int
    embedding: Sequence[float]
    # term -> frequency, from the keyword analyzer
    term_frequencies: dict[str, int] = field(default_factory=dict)


def content_hash_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# No savepoint: uploads call these inside their own transaction, once per file; a failure undoes the
# whole upload anyway, and two savepoint round trips per call were a third of an upload's queries.
@transaction.atomic(savepoint=False)
def document_create(
    *,
    uploaded_by: User | None,
    title: str,
    source: str,
    visible_to_tenant: bool = False,
    external_id: str | None = None,
    metadata: dict | None = None,
) -> Document:
    # A new document's only grants are the owner's, given below in this transaction, so its ACL is
    # known before the row exists: one insert (and one audit entry) instead of an insert and an update.
    document = Document.objects.create(
        title=title[:500],
        source=source[:1000],
        uploaded_by=uploaded_by,
        visible_to_tenant=visible_to_tenant,
        external_id=external_id,
        metadata=metadata or {},
        acl=acl_for_new_document(visible_to_tenant=visible_to_tenant, owner=uploaded_by),
    )
    if uploaded_by is not None:
        for permission in OWNER_PERMISSIONS:
            assign_perm(permission, uploaded_by, document)
    return document


@transaction.atomic(savepoint=False)
def document_version_add(
    *,
    document: Document,
    filename: str,
    data: bytes,
    declared_media_type: str = "",
    uploaded_by: User | None,
    new_document: bool = False,
) -> DocumentVersion:
    """The document's next version. `new_document`: created in this same transaction, so no other
    upload can know it yet and this is version 1 (nothing to lock or count)."""
    latest = 0
    if not new_document:
        # Lock the document so concurrent uploads of new versions get distinct numbers.
        Document.objects.select_for_update().filter(pk=document.pk).first()
        latest = document.versions.aggregate(latest=Max("number"))["latest"] or 0
    return DocumentVersion.objects.create(
        document=document,
        number=latest + 1,
        filename=filename[:1000],
        declared_media_type=declared_media_type[:200],
        content_hash=content_hash_of(data),
        size_bytes=len(data),
        content=data,
        uploaded_by=uploaded_by,
    )


@dataclass(frozen=True)
class DocumentIndexUpdate:
    """One document's new searchable content, for `documents_index_replace`."""

    document: Document
    version: DocumentVersion
    chunks: Sequence[ChunkToStore]
    media_type: str
    title: str | None = None
    metadata: dict | None = None


# No savepoint: called inside the ingestion pipeline's own transaction, whose failure undoes it all anyway.
@transaction.atomic(savepoint=False)
def document_index_replace(
    *,
    document: Document,
    version: DocumentVersion,
    chunks: Sequence[ChunkToStore],
    embedding_model: str,
    media_type: str,
    title: str | None = None,
    metadata: dict | None = None,
) -> int:
    """Swap the document's searchable chunks for this version's, all at once.

    Raises VersionSuperseded, having written nothing, when a newer version is indexed already.
    """
    update = DocumentIndexUpdate(
        document=document, version=version, chunks=chunks, media_type=media_type, title=title, metadata=metadata
    )
    (count,) = documents_index_replace(updates=[update], embedding_model=embedding_model)
    if count is None:
        raise VersionSuperseded(f"document {document.pk} already holds a newer version than {version.number}")
    return count


@transaction.atomic(savepoint=False)
def documents_index_replace(*, updates: Sequence[DocumentIndexUpdate], embedding_model: str) -> list[int | None]:
    """Swap several documents' searchable chunks for their new versions', in one transaction.

    Old chunks, their postings and the statistics go in the same transaction as the new ones
    arrive: a search sees either the old version or the new one, never half of either. Ingestion
    stores a whole embedding group at once: a few statements for the group instead of a dozen per
    document. Two versions of one document are applied in the order given. Returns each update's
    chunk count, or None for a document that already holds a newer version (nothing is written for it).
    """
    return [count for run in _runs_of_distinct_documents(updates) for count in _index_replace_run(run, embedding_model)]


def _runs_of_distinct_documents(updates: Sequence[DocumentIndexUpdate]) -> Iterator[list[DocumentIndexUpdate]]:
    """Consecutive runs in which no document appears twice, in order."""
    run: list[DocumentIndexUpdate] = []
    for update in updates:
        if any(queued.document.pk == update.document.pk for queued in run):
            yield run
            run = []
        run.append(update)
    if run:
        yield run


def _index_replace_run(updates: list[DocumentIndexUpdate], embedding_model: str) -> list[int | None]:
    # Locked in primary-key order, so two workers storing overlapping groups cannot deadlock.
    locked_by_id = {
        document.pk: document
        for document in Document.objects.select_for_update(of=("self",))
        .select_related("current_version")
        .filter(pk__in=[update.document.pk for update in updates])
        .order_by("pk")
    }
    pairs = [(update, locked_by_id[update.document.pk]) for update in updates]
    applied = [(update, locked) for update, locked in pairs if not _superseded(locked, update.version)]
    acl_by_id = acls_for_documents([locked for _, locked in applied])
    old_chunk_count, old_term_total = 0, 0
    for _, locked in applied:
        if locked.current_version_id is not None:  # chunks exist only once a version was indexed
            chunks_before, terms_before = _indexed_totals(locked)
            old_chunk_count, old_term_total = old_chunk_count + chunks_before, old_term_total + terms_before
            Chunk.objects.filter(document=locked).delete()  # cascades to postings
    new_chunks = [
        _chunk_row(locked, update, chunk, acl_by_id[locked.pk], embedding_model)
        for update, locked in applied
        for chunk in update.chunks
    ]
    stored = Chunk.objects.bulk_create(new_chunks, batch_size=500)
    _postings_copy(stored, [chunk for update, _ in applied for chunk in update.chunks])
    for update, locked in applied:
        _document_mark_indexed(locked, update, acl=acl_by_id[locked.pk])
    new_terms = sum(_length(chunk) for update, _ in applied for chunk in update.chunks)
    index_version_bump(chunk_delta=len(stored) - old_chunk_count, term_delta=new_terms - old_term_total)
    counts = {update.document.pk: len(update.chunks) for update, _ in applied}
    return [counts.get(update.document.pk) for update in updates]


def _superseded(locked: Document, version: DocumentVersion) -> bool:
    return locked.current_version is not None and locked.current_version.number > version.number


def _chunk_row(
    locked: Document, update: DocumentIndexUpdate, chunk: ChunkToStore, acl: list[str], embedding_model: str
) -> Chunk:
    return Chunk(
        document=locked,
        version=update.version,
        ordinal=chunk.ordinal,
        text=chunk.text,
        heading_path=chunk.heading_path,
        char_start=chunk.char_start,
        char_end=chunk.char_end,
        token_count=chunk.token_count,
        embedding=list(chunk.embedding),
        embedding_model=embedding_model,
        acl=acl,
    )


def _document_mark_indexed(locked: Document, update: DocumentIndexUpdate, *, acl: list[str]) -> None:
    version = update.version
    locked.current_version = version
    locked.content_hash = version.content_hash
    locked.size_bytes = version.size_bytes
    locked.media_type = update.media_type
    locked.status = Document.Status.INDEXED
    locked.graph_status = Document.GraphStatus.PENDING
    locked.acl = acl
    if update.title:
        locked.title = update.title[:500]
    if update.metadata:
        locked.metadata = {**locked.metadata, **update.metadata}
    locked.save()  # one by one: every change of a document is audited


def _postings_copy(stored: Sequence[Chunk], chunks: Sequence[ChunkToStore]) -> None:
    """Write BM25 postings with COPY: a chunk has ~100 of them, and building a model instance per
    posting was the slowest part of storing a document. Errors surface as Django's DatabaseError,
    like those of every other query."""
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.copy("COPY documents_keywordposting (term, chunk_id, term_frequency, chunk_length) FROM STDIN") as copy,
    ):
        for row, chunk in zip(stored, chunks, strict=True):
            length = _length(chunk)
            for term, frequency in chunk.term_frequencies.items():
                copy.write_row((term, row.pk, min(frequency, 32767), length))


def _indexed_totals(document: Document) -> tuple[int, int]:
    """How many chunks and BM25 terms the document adds to the corpus statistics now."""
    chunk_count = Chunk.objects.filter(document=document).count()
    term_total = KeywordPosting.objects.filter(chunk__document=document).aggregate(total=Sum("term_frequency"))["total"]
    return chunk_count, term_total or 0


def _length(chunk: ChunkToStore) -> int:
    return sum(chunk.term_frequencies.values())


def document_mark_failed(*, document: Document) -> None:
    """A document whose first version failed stays out of search; one with an indexed version keeps it."""
    Document.objects.filter(pk=document.pk, current_version__isnull=True).update(status=Document.Status.FAILED)


def documents_delegated_upload_record(*, versions: Iterable[tuple[int, int]], delegated_by: int | None) -> None:
    """After an upload, for each (document id, version number): who stands behind the key acting as
    a service account that uploaded it. A first version records that person; a later version from
    anyone else (or from no delegated key) clears it, so the exemption never widens."""
    for document_id, number in versions:
        rows = Document.objects.filter(pk=document_id)
        if number == 1:
            rows.update(delegated_upload_by_id=delegated_by)
        else:
            rows.exclude(delegated_upload_by_id=delegated_by).update(delegated_upload_by_id=None)


@transaction.atomic
def document_delete(*, document: Document) -> None:
    """Remove the document with its versions, chunks and postings; the graph follows after commit."""
    locked = Document.objects.select_for_update().get(pk=document.pk)
    chunk_count, term_total = _indexed_totals(locked)
    document_id = locked.pk
    _remove_object_permissions(locked)
    locked.delete()
    index_version_bump(chunk_delta=-chunk_count, term_delta=-term_total)
    transaction.on_commit(
        partial(document_deleted.send, sender=Document, schema_name=connection.schema_name, document_id=document_id)  # type: ignore[attr-defined]
    )


def _remove_object_permissions(document: Document) -> None:
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    grants = {"content_type": ContentType.objects.get_for_model(Document), "object_pk": str(document.pk)}
    UserObjectPermission.objects.filter(**grants).delete()
    GroupObjectPermission.objects.filter(**grants).delete()


def _validate_permissions(permissions: Iterable[str]) -> list[str]:
    chosen = list(permissions)
    unknown = set(chosen) - GRANTABLE_PERMISSIONS
    if unknown or not chosen:
        raise ValueError(f"unknown permissions: {sorted(unknown)}; choose from {sorted(GRANTABLE_PERMISSIONS)}")
    return chosen


@transaction.atomic
def document_access_grant(
    *,
    document: Document,
    principal: User | Group,
    permissions: Iterable[str] = ("view_document",),
    actor: User | None = None,
) -> list[str]:
    chosen = _validate_permissions(permissions)
    document_grants_allowed(actor=actor, document=document, permissions=chosen)
    for permission in chosen:
        assign_perm(permission, principal, document)
    _access_change_audit("acl.grant", document=document, principal=principal, permissions=chosen, actor=actor)
    return document_acl_refresh(document=document)


@transaction.atomic
def document_access_revoke(
    *,
    document: Document,
    principal: User | Group,
    permissions: Iterable[str] = OWNER_PERMISSIONS,
    actor: User | None = None,
) -> list[str]:
    chosen = _validate_permissions(permissions)
    document_revokes_allowed(actor=actor, document=document, principal=principal, permissions=chosen)
    for permission in chosen:
        remove_perm(permission, principal, document)
    _access_change_audit("acl.revoke", document=document, principal=principal, permissions=chosen, actor=actor)
    return document_acl_refresh(document=document)


@transaction.atomic
def document_visibility_set(*, document: Document, visible_to_tenant: bool, actor: User | None = None) -> list[str]:
    Document.objects.filter(pk=document.pk).update(visible_to_tenant=visible_to_tenant)
    document.visible_to_tenant = visible_to_tenant
    audit_event_record(
        action="acl.grant" if visible_to_tenant else "acl.revoke",
        actor=actor,
        target=document,
        details={"principal": TENANT_WIDE, "permissions": ["view_document"]},
    )
    return document_acl_refresh(document=document)


@transaction.atomic
def _access_change_audit(
    action: str, *, document: Document, principal: User | Group, permissions: list[str], actor: User | None
) -> None:
    """One chained audit event per grant or revoke, in its transaction (actor: the request's user if None)."""
    kind = "group" if isinstance(principal, Group) else "user"
    audit_event_record(
        action=action,
        actor=actor,
        target=document,
        details={"principal": f"{kind}:{principal.pk}", "permissions": sorted(permissions)},
    )


@transaction.atomic
def document_acl_refresh(*, document: Document) -> list[str]:
    """Recompute the ACL from guardian and write it to the document and every chunk, now."""
    locked = Document.objects.select_for_update().get(pk=document.pk)
    acl = acl_for_document(locked)
    Document.objects.filter(pk=locked.pk).update(acl=acl)
    Chunk.objects.filter(document=locked).update(acl=acl)
    document.acl = acl
    index_version_bump()
    transaction.on_commit(
        partial(
            document_acl_changed.send,
            sender=Document,
            schema_name=connection.schema_name,  # type: ignore[attr-defined]
            document_id=locked.pk,
            acl=acl,
        )
    )
    return acl
