"""The keyword leg returns exact Okapi BM25 top-k among the chunks a user may view, even when the
best-scoring chunks are hidden from them (the ACL walk then reads past its first cut), and sees a
change to the index on the next query although it keeps postings in memory."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from apps.accounts.models import User
from apps.documents.acl import SUPERUSER, principals_for_user
from apps.documents.index_state import IndexSnapshot, index_snapshot
from apps.documents.models import Chunk, Document, KeywordPosting
from apps.documents.services import document_delete
from apps.ingestion.pipeline import ingestion_jobs_run
from apps.ingestion.services import UploadedFile, document_upload
from apps.retrieval.legs import keyword
from apps.retrieval.legs.base import LegQuery
from apps.retrieval.legs.keyword import PostgresBM25Leg, PostingsCache, TermPostings
from apps.tenants.context import in_tenant
from apps.text.analyzer import analyze
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


def test_a_new_document_is_found_by_the_next_query_though_the_postings_were_cached(crowd, committed_db):
    schema, carol = crowd
    with in_tenant(schema):
        principals = set(principals_for_user(carol))
        before = leg_top(schema, principals, k=NOTES)  # caches the query's postings at this version
        job = document_upload(
            upload=UploadedFile(filename="late.txt", data=b"A late zephyr forecast, zephyr after zephyr."),
            uploaded_by=None,
            visible_to_tenant=True,
        )
        ingestion_jobs_run(job_ids=[str(job.pk)])
        late_chunks = set(Chunk.objects.filter(document_id=job.document_id).values_list("pk", flat=True))
        after = leg_top(schema, principals, k=NOTES)
        expected = reference_bm25(principals, k=NOTES)
        document_delete(document=Document.objects.get(pk=job.document_id))
        after_delete = leg_top(schema, principals, k=NOTES)

    assert not late_chunks & {chunk_id for chunk_id, _ in before}
    assert late_chunks & {chunk_id for chunk_id, _ in after}
    assert [chunk_id for chunk_id, _ in after] == [chunk_id for chunk_id, _ in expected]
    assert [score for _, score in after] == pytest.approx([score for _, score in expected])  # idf moved too
    assert not late_chunks & {chunk_id for chunk_id, _ in after_delete}
    assert [chunk_id for chunk_id, _ in after_delete] == [chunk_id for chunk_id, _ in before]
    assert [score for _, score in after_delete] == pytest.approx([score for _, score in before])


def postings(*chunk_ids: int) -> TermPostings:
    return TermPostings.from_rows(list(chunk_ids), [1] * len(chunk_ids), [10] * len(chunk_ids))


def test_the_postings_cache_is_bounded_least_recently_used_first_out():
    cache = PostingsCache(max_postings=5)
    state = IndexSnapshot(version=1, chunk_count=10, term_total=100)
    cache.put_many("t", state, {"a": postings(1, 2), "b": postings(3, 4)})
    assert set(cache.get_many("t", state, ["a"])) == {"a"}  # "a" is now the most recently used

    cache.put_many("t", state, {"c": postings(5, 6), "huge": postings(*range(6))})

    assert set(cache.get_many("t", state, ["a", "b", "c", "huge"])) == {"a", "c"}
    assert cache.size == 4


def test_a_newer_index_state_drops_the_older_entries_and_older_reads_are_not_kept():
    cache = PostingsCache(max_postings=100)
    old = IndexSnapshot(version=1, chunk_count=10, term_total=100)
    new = IndexSnapshot(version=2, chunk_count=11, term_total=110)
    recreated = IndexSnapshot(version=2, chunk_count=3, term_total=30)  # same version, another index
    cache.put_many("t", old, {"a": postings(1)})
    cache.put_many("other", old, {"a": postings(1)})

    assert cache.get_many("t", new, ["a"]) == {}
    cache.put_many("t", old, {"a": postings(1)})  # a slow reader's result for the older state
    assert cache.get_many("t", old, ["a"]) == {}
    cache.put_many("t", new, {"a": postings(1, 2)})
    assert len(cache.get_many("t", new, ["a"])["a"]) == 2
    assert cache.get_many("t", recreated, ["a"]) == {}
    assert set(cache.get_many("other", old, ["a"])) == {"a"}  # other tenants are untouched


@pytest.mark.django_db
def test_postings_read_in_binary_keep_every_value_across_the_columns_ranges():
    # Values at the edges of each column's type: ids past 2^32, the largest smallint frequency, long chunks.
    rows = [(5_000_000_001, 32_767, 70_000), (7, 1, 3), (2**62, 12, 2**31 - 1)]
    sql = keyword.POSTINGS_SQL.replace("documents_keywordposting", "postings_sample")
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE postings_sample (term text, chunk_id bigint, term_frequency smallint, chunk_length int)"
        )
        cursor.executemany("INSERT INTO postings_sample VALUES ('t', %s, %s, %s)", rows)
        cursor.execute(sql, {"terms": ["t", "absent"]})
        fetched = cursor.fetchall()

    assert [row[0] for row in fetched] == ["t"]
    read = TermPostings.from_binary(*fetched[0][1:])
    expected = TermPostings.from_rows(*zip(*rows, strict=True))
    columns = (read.chunk_ids.tolist(), read.term_frequencies.tolist(), read.chunk_lengths.tolist())
    assert sorted(zip(*columns, strict=True)) == sorted(rows)
    assert read.chunk_ids.dtype == expected.chunk_ids.dtype
    assert read.term_frequencies.dtype == expected.term_frequencies.dtype
    assert read.chunk_lengths.dtype == expected.chunk_lengths.dtype
