"""Documents, their versions and chunks, all in the tenant's schema.

PostgreSQL is the source of truth for who may see what: django-guardian holds the object
permissions, and every document and chunk carries the resulting ACL principals
(`["user:12", "group:5", "tenant:all", "role:superuser"]`) so retrieval filters inside SQL.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from pgvector.django import HnswIndex, VectorField

from apps.core.models import TimeStampedModel
from apps.tenants.encryption.fields import EncryptedBinaryField, EncryptedTextField


class Document(TimeStampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        INDEXED = "indexed", "Indexed"
        FAILED = "failed", "Failed"

    class GraphStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed"

    title = models.CharField(max_length=500)
    source = models.CharField(max_length=1000, help_text="original file name or path")
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    media_type = models.CharField(max_length=200, blank=True)
    content_hash = models.CharField(max_length=64, db_index=True, help_text="sha256 of the indexed version")
    size_bytes = models.BigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True)
    graph_status = models.CharField(max_length=20, choices=GraphStatus.choices, default=GraphStatus.PENDING)
    metadata = models.JSONField(default=dict, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="uploaded_documents"
    )
    visible_to_tenant = models.BooleanField(default=False, help_text="everyone in the company may view it")
    # Uploaded (every version so far) through API keys acting as a service account that one person
    # created: that person's id. The delegation rule lets that person's keys manage these uploads
    # without holding them otherwise (apps.documents.selectors.user_access_covers), nobody else's.
    delegated_upload_by_id = models.IntegerField(null=True, blank=True)
    current_version = models.ForeignKey(
        "DocumentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acl = ArrayField(models.CharField(max_length=64), default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [GinIndex(fields=["acl"], name="document_acl_gin")]

    def __str__(self) -> str:
        return self.title


class DocumentVersion(TimeStampedModel):
    """One uploaded revision. Its bytes are kept so re-embedding and graph rebuilds can re-parse."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    filename = models.CharField(max_length=1000)
    declared_media_type = models.CharField(max_length=200, blank=True)
    content_hash = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    content = EncryptedBinaryField()
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "number"], name="document_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.document_id} v{self.number}"


class Chunk(models.Model):
    """A passage of the document's current version, with its embedding and ACL principals."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    version = models.ForeignKey(DocumentVersion, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = EncryptedTextField()
    heading_path = models.JSONField(default=list, blank=True)
    char_start = models.PositiveIntegerField()
    char_end = models.PositiveIntegerField()
    token_count = models.PositiveIntegerField()
    embedding = VectorField(dimensions=384)
    embedding_model = models.CharField(max_length=100)
    acl = ArrayField(models.CharField(max_length=64), default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document_id", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_document_ordinal_unique")]
        indexes = [
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["acl"], name="chunk_acl_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"


class KeywordPosting(models.Model):
    """One term of one chunk, for BM25. Written in the same transaction as the chunk, so the keyword
    index can never disagree with the chunks (no separate index to lose or rebuild per process)."""

    term = models.CharField(max_length=64)
    chunk = models.ForeignKey(Chunk, on_delete=models.CASCADE, related_name="postings")
    term_frequency = models.PositiveSmallIntegerField()
    chunk_length = models.PositiveIntegerField(help_text="terms in the chunk, for BM25 length normalisation")

    class Meta:
        # Covering index: the BM25 query reads postings with index-only scans, never the table.
        indexes = [
            models.Index(
                fields=["term"], include=["chunk", "term_frequency", "chunk_length"], name="posting_term_covering"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.term}@{self.chunk_id}"


class IndexState(models.Model):
    """One row per tenant: a version bumped by every ingest, delete and permission change (cache keys
    carry it, so nothing stale is served), and the corpus statistics BM25 needs."""

    version = models.BigIntegerField(default=0)
    chunk_count = models.BigIntegerField(default=0)
    term_total = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"index v{self.version}"
