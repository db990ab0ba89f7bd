"""The dense leg never returns fewer rows than an exact scan would (issue 26, case 6).

pgvector's iterative HNSW scan stops after hnsw.max_scan_tuples index tuples; a user who may see
only a few chunks among many then got fewer than k results (none at all, here), though the rows
were there. The leg repeats such a scan exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection

from apps.documents.models import Chunk
from apps.documents.services import document_create, document_version_add
from apps.retrieval.legs.base import LegQuery
from apps.retrieval.legs.dense import PgvectorDenseLeg

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

CROWD = 2_000


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def chunks(
    *, count: int, acl: list[str], rng: np.random.Generator, near: np.ndarray | None = None
) -> dict[int, np.ndarray]:
    """`count` chunks readable by `acl`, with random vectors (close to `near` if given), by id."""
    document = document_create(uploaded_by=None, title=f"{acl[0]} notes", source="notes.txt", visible_to_tenant=False)
    version = document_version_add(document=document, filename="notes.txt", data=b"notes", uploaded_by=None)
    vectors = [
        unit(rng.normal(size=384)) if near is None else unit(near + 0.05 * rng.normal(size=384)) for _ in range(count)
    ]
    rows = [
        Chunk(
            document=document,
            version=version,
            ordinal=ordinal,
            text=f"passage {ordinal}",
            char_start=0,
            char_end=1,
            token_count=2,
            embedding=vector.tolist(),
            embedding_model="test",
            acl=acl,
        )
        for ordinal, vector in enumerate(vectors)
    ]
    return {chunk.pk: vector for chunk, vector in zip(Chunk.objects.bulk_create(rows), vectors, strict=True)}


def test_the_index_scan_never_returns_fewer_rows_than_an_exact_scan(in_alpha, settings):
    """Half the chunks are the user's, all far from the question; the other half, which the index
    walk meets first, belong to someone else. Expected: k of the user's chunks."""
    # The index walk gives up early: what a tenant of millions of chunks meets with the defaults.
    settings.RETRIEVAL_HNSW_EF_SEARCH, settings.RETRIEVAL_HNSW_MAX_SCAN_TUPLES = 5, 1
    rng = np.random.default_rng(7)
    question = unit(rng.normal(size=384))
    chunks(count=CROWD, acl=["u:someone-else"], rng=rng, near=question)
    mine = chunks(count=CROWD, acl=["u:me"], rng=rng)
    with connection.cursor() as cursor:
        # As the planner chooses on a large tenant: the HNSW index, not a scan of every row.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")

    found = PgvectorDenseLeg().search(
        LegQuery(tenant=in_alpha.schema_name, principals=("u:me",), text="q", k=5, embedding=question)
    )

    assert len(found) == 5
    assert {candidate.chunk_id for candidate in found} <= set(mine)
