"""A synthetic tenant for retrieval latency benchmarks, and the timing loop.

Chunks are made of real sentences (from the BEIR corpora under shared/eval) so the vocabulary has
a natural distribution, and each chunk's embedding is the normalised mean of its sentences' real
MiniLM embeddings: realistic geometry at a fraction of the cost of embedding every chunk. Rows
are written with COPY, postings and the graph in bulk, so 100k chunks build in minutes.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from django.db import connection, transaction

from apps.documents.acl import SUPERUSER, TENANT_WIDE
from apps.documents.index_state import index_state_row
from apps.documents.models import Chunk, Document, DocumentVersion, IndexState
from apps.integrations.embeddings.factory import embedder
from apps.integrations.graph.factory import graph_schema_ensure
from apps.integrations.graph.knowledge import GraphChunk, graph_documents_replace
from apps.tenants.context import current_tenant_schema
from apps.text.analyzer import term_frequencies
from apps.text.entities import entity_extractor
from apps.text.entities.base import ExtractedEntity

# The benchmark corpus only needs to be reproducible, not unpredictable.
SENTENCE = re.compile(r"(?<=[.!?])\s+")
RESTRICTED_GROUPS = 10  # restricted chunks are visible to one of these groups
RESTRICTED_SHARE = 0.3  # 30% of chunks are restricted; the benchmark user sees group 1's
VECTOR_INDEX = "chunk_embedding_hnsw"


def sentence_pool(corpora: list[Path], *, limit: int) -> list[str]:
    sentences: list[str] = []
    for corpus in corpora:
        with corpus.open(encoding="utf-8") as handle:
            for line in handle:
                entry = json.loads(line)
                for sentence in SENTENCE.split(f"{entry.get('title', '')}. {entry.get('text', '')}"):
                    if 40 <= len(sentence) <= 400:
                        sentences.append(sentence.strip())
                if len(sentences) >= limit:
                    return sentences
    return sentences


def query_pool(query_files: list[Path], *, limit: int) -> list[str]:
    queries: list[str] = []
    for path in query_files:
        with path.open(encoding="utf-8") as handle:
            queries.extend(json.loads(line)["text"] for line in handle if line.strip())
    random.Random(7).shuffle(queries)  # noqa: S311 - reproducible sample
    return queries[:limit]


def synthetic_picks(sentence_count: int, *, count: int, seed: int = 11) -> Iterator[tuple[list[int], list[str]]]:
    """Which sentences make up each synthetic chunk, and its ACL; the same sequence on every call."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data
    for _ in range(count):
        picks = [rng.randrange(sentence_count) for _ in range(rng.randint(2, 5))]
        if rng.random() < RESTRICTED_SHARE:
            acl = [SUPERUSER, f"group:{rng.randint(1, RESTRICTED_GROUPS)}"]
        else:
            acl = [SUPERUSER, TENANT_WIDE]
        yield picks, acl


def synthetic_chunks(
    sentences: list[str], vectors: np.ndarray, *, count: int
) -> Iterator[tuple[str, np.ndarray, list[str]]]:
    for picks, acl in synthetic_picks(len(sentences), count=count):
        text = " ".join(sentences[index] for index in picks)
        vector = vectors[picks].mean(axis=0)
        vector /= np.linalg.norm(vector) or 1.0
        yield text, vector, acl


def build_synthetic_graph(
    *, sentences: list[str], chunk_count: int, on_progress: Callable[[int], None] | None = None
) -> None:
    """The knowledge graph of the synthetic tenant, from entities extracted once per sentence.

    A synthetic chunk is a few pool sentences, so its entities are their sentences' entities (the
    strongest mention wins): 20k extractions instead of one per chunk, which is what made a 100k
    build take hours. The graph is written by the same code as ingestion's.
    """
    per_sentence = entity_extractor().extract(texts=sentences)
    chunk_rows = Chunk.objects.order_by("pk").values_list("pk", "document_id")
    documents: dict[int, list[GraphChunk]] = {}
    tenant = current_tenant_schema()
    graph_schema_ensure()
    for (chunk_id, document_id), (picks, acl) in zip(
        chunk_rows.iterator(chunk_size=5000), synthetic_picks(len(sentences), count=chunk_count), strict=True
    ):
        strongest: dict[str, ExtractedEntity] = {}
        for index in picks:
            for entity in per_sentence[index]:
                if entity.key not in strongest or entity.weight > strongest[entity.key].weight:
                    strongest[entity.key] = entity
        documents.setdefault(document_id, []).append(
            GraphChunk(chunk_id=chunk_id, acl=acl, entities=list(strongest.values()))
        )
        if len(documents) >= 200:
            _flush_graph(tenant, documents, on_progress)
    _flush_graph(tenant, documents, on_progress)


def _flush_graph(
    tenant: str, documents: dict[int, list[GraphChunk]], on_progress: Callable[[int], None] | None
) -> None:
    if not documents:
        return
    graph_documents_replace(tenant=tenant, documents=documents)
    if on_progress:
        on_progress(sum(len(chunks) for chunks in documents.values()))
    documents.clear()


def build_synthetic_corpus(
    *,
    sentences: list[str],
    chunk_count: int,
    chunks_per_document: int = 10,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Replace the current tenant's documents with `chunk_count` synthetic chunks."""
    vectors = embedder().embed_documents(sentences)
    Document.objects.all().delete()
    IndexState.objects.all().delete()
    generator = synthetic_chunks(sentences, vectors, count=chunk_count)
    written = 0
    term_total = 0
    with _vector_index_built_after_load():
        while written < chunk_count:
            batch = [next(generator) for _ in range(min(5000, chunk_count - written))]
            term_total += _write_batch(batch, chunks_per_document=chunks_per_document)
            written += len(batch)
            if on_progress:
                on_progress(len(batch))
    with transaction.atomic():
        state = index_state_row()
        IndexState.objects.filter(pk=state.pk).update(version=1, chunk_count=written, term_total=term_total)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE documents_chunk")
        cursor.execute("VACUUM ANALYZE documents_keywordposting")


@contextmanager
def _vector_index_built_after_load() -> Iterator[None]:
    """Drop the HNSW index for the load and build it once at the end, as pgvector advises for bulk loads.

    Inserting a million rows into a live HNSW index updates the graph row by row, which is what made a
    1M-chunk build take hours; one build afterwards with room in maintenance_work_mem takes minutes. The
    index is the model's own (the one the migrations made); a build killed half way left it dropped, so
    a missing index is simply built at the end.
    """
    index = next(index for index in Chunk._meta.indexes if index.name == VECTOR_INDEX)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = %s", [VECTOR_INDEX]
        )
        present = cursor.fetchone() is not None
    if present:
        with connection.schema_editor() as editor:
            editor.remove_index(Chunk, index)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem = '4GB'")
        try:
            with connection.schema_editor() as editor:
                editor.add_index(Chunk, index)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET maintenance_work_mem")


def _write_batch(batch: list[tuple[str, np.ndarray, list[str]]], *, chunks_per_document: int) -> int:
    term_total = 0
    with transaction.atomic():
        for start in range(0, len(batch), chunks_per_document):
            group = batch[start : start + chunks_per_document]
            document = Document.objects.create(
                title=group[0][0][:80],
                source="synthetic",
                status=Document.Status.INDEXED,
                acl=group[0][2],
                graph_status=Document.GraphStatus.SYNCED,
                content_hash="synthetic",
            )
            version = DocumentVersion.objects.create(
                document=document,
                number=1,
                filename="synthetic.txt",
                content_hash="synthetic",
                size_bytes=0,
                content=b"",
            )
            chunks = Chunk.objects.bulk_create(
                [
                    Chunk(
                        document=document,
                        version=version,
                        ordinal=ordinal,
                        text=text,
                        heading_path=[],
                        char_start=0,
                        char_end=len(text),
                        token_count=len(text.split()),
                        embedding=vector.tolist(),
                        embedding_model=embedder().model_name,
                        acl=acl,
                    )
                    for ordinal, (text, vector, acl) in enumerate(group)
                ]
            )
            term_total += _copy_postings(chunks)
    return term_total


def _copy_postings(chunks: list[Chunk]) -> int:
    total = 0
    with (
        connection.cursor() as cursor,
        cursor.copy("COPY documents_keywordposting (term, chunk_id, term_frequency, chunk_length) FROM STDIN") as copy,
    ):
        for chunk in chunks:
            frequencies = Counter(term_frequencies(chunk.text))
            length = sum(frequencies.values())
            total += length
            for term, frequency in frequencies.items():
                copy.write_row((term, chunk.pk, min(frequency, 32767), length))
    return total
