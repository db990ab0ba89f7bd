"""The keyword leg returns exact Okapi BM25 top-k among the chunks a user may view, even when the
best-scoring chunks are hidden from them (the ACL walk then reads past its first cut)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

import pytest
from django.conf import settings

from apps.accounts.models import User
from apps.documents.acl import SUPERUSER, principals_for_user
from apps.documents.index_state import index_snapshot
from apps.documents.models import Chunk, KeywordPosting
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, document_upload
from apps.integrations.keyword.analyzer import analyze
from apps.retrieval.legs import keyword
from apps.retrieval.legs.base import LegQuery
from apps.retrieval.legs.keyword import PostgresBM25Leg
from apps.tenants.context import in_tenant
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration

QUERY = "zephyr forecast"
NOTES = 12
VIEWABLE_NOTES = {10, 11}  # the weakest matches are the only ones everyone may view


@pytest.fixture(scope="module")
def crowd(django_db_setup, django_db_blocker) -> Iterator[tuple[str, User]]:
    with django_db_blocker.unblock(), committed_tenant("kw") as tenant, in_tenant(tenant.schema_name):
        carol = User.objects.create_user(username="carol", password="x" * 16)
        jobs = [
            document_upload(
                upload=UploadedFile(
                    filename=f"note-{n}.txt",
                    # Earlier notes say "zephyr" more often, so they outrank the viewable ones.
                    data=(f"Note {n}. " + "Zephyr winds. " * (NOTES - n) + "The forecast is calm.").encode(),
                ),
                uploaded_by=None,
                visible_to_tenant=n in VIEWABLE_NOTES,
            )
            for n in range(NOTES)
        ]
        ingestion_jobs_run(job_ids=[str(job.pk) for job in jobs])
        yield tenant.schema_name, carol


def reference_bm25(principals: set[str], k: int) -> list[tuple[int, float]]:
    """Filter by ACL first, then score every viewable chunk in Python: the definition, not the SQL."""
    state = index_snapshot()
    terms = set(analyze(QUERY))
    postings = KeywordPosting.objects.filter(term__in=terms).values_list(
        "term", "chunk_id", "term_frequency", "chunk_length"
    )
    frequency: dict[str, int] = defaultdict(int)
    for term, *_ in postings:
        frequency[term] += 1
    viewable = {chunk.pk for chunk in Chunk.objects.all() if principals & set(chunk.acl)}
    k1, b, avgdl = settings.BM25_K1, settings.BM25_B, state.term_total / state.chunk_count
    scores: dict[int, float] = defaultdict(float)
    for term, chunk_id, tf, length in postings:
        if chunk_id in viewable:
            idf = math.log(1 + (state.chunk_count - frequency[term] + 0.5) / (frequency[term] + 0.5))
            scores[chunk_id] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avgdl))
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]


def leg_top(schema: str, principals: set[str], k: int) -> list[tuple[int, float]]:
    query = LegQuery(tenant=schema, principals=tuple(sorted(principals)), text=QUERY, k=k, terms=tuple(analyze(QUERY)))
    return [(candidate.chunk_id, candidate.score) for candidate in PostgresBM25Leg().search(query)]


def test_hidden_best_matches_do_not_cost_a_user_the_ones_they_may_view(crowd, committed_db, monkeypatch):
    schema, carol = crowd
    monkeypatch.setattr(keyword, "SCAN_FACTOR", 2)  # the first cut holds 4 chunks, all hidden from carol
    with in_tenant(schema):
        principals = set(principals_for_user(carol))
        found = leg_top(schema, principals, k=2)
        expected = reference_bm25(principals, k=2)
        viewable_chunks = set(Chunk.objects.filter(document__acl__contains=["tenant:all"]).values_list("pk", flat=True))

    assert [chunk_id for chunk_id, _ in found] == [chunk_id for chunk_id, _ in expected]
    assert {chunk_id for chunk_id, _ in found} == viewable_chunks
    assert [score for _, score in found] == pytest.approx([score for _, score in expected])


@pytest.mark.parametrize("k", [1, 5, NOTES])
def test_scores_and_order_are_okapi_bm25_over_the_viewable_chunks(crowd, committed_db, k):
    schema, carol = crowd
    with in_tenant(schema):
        for principals in ({SUPERUSER}, set(principals_for_user(carol))):
            found = leg_top(schema, principals, k=k)
            expected = reference_bm25(principals, k=k)
            assert [chunk_id for chunk_id, _ in found] == [chunk_id for chunk_id, _ in expected]
            assert [score for _, score in found] == pytest.approx([score for _, score in expected])
