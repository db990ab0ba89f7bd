"""Invariant 2 on every retrieval path: a user never receives a chunk of a document they may not view.

Legs run in worker threads with their own database connections, so the corpus here is committed
(in its own tenant, dropped afterwards) rather than inside a rolled-back test transaction.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings

from apps.accounts.models import User
from apps.documents.acl import principals_for_user
from apps.documents.models import Document
from apps.documents.services import document_access_grant, document_access_revoke, document_delete
from apps.retrieval.legs.base import LegQuery
from apps.retrieval.legs.dense import PgvectorDenseLeg
from apps.retrieval.legs.graph import Neo4jGraphLeg
from apps.retrieval.legs.keyword import PostgresBM25Leg
from apps.retrieval.search import retrieve
from apps.tenants.context import in_tenant
from tests.retrieval.corpus import document_ingest
from tests.retrieval.doubles import legs_with_graph
from tests.support.committed import committed_tenant

pytestmark = pytest.mark.integration

QUERY = "What is the Northwind refund policy for the Falcon budget?"
LEG_SETS = [("dense",), ("keyword",), ("graph",), ("dense", "keyword", "graph")]


@dataclass
class Corpus:
    schema: str
    alice: User  # granted the refund memo directly
    bob: User  # in Finance, which may see the budget
    carol: User  # no grants: sees only the handbook
    finance: Group
    refund_memo: Document
    budget: Document
    handbook: Document


def ingest(*, title: str, text: str, visible_to_tenant: bool = False) -> Document:
    return document_ingest(filename=f"{title}.md", text=f"# {title}\n\n{text}", visible_to_tenant=visible_to_tenant)


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker) -> Iterator[Corpus]:
    with django_db_blocker.unblock(), committed_tenant("ret") as tenant, in_tenant(tenant.schema_name):
        finance = Group.objects.create(name="Finance")
        alice = User.objects.create_user(username="alice", password="x" * 16)
        bob = User.objects.create_user(username="bob", password="x" * 16)
        bob.groups.add(finance)
        carol = User.objects.create_user(username="carol", password="x" * 16)
        refund_memo = ingest(
            title="Northwind refund memo",
            text="Confidential: the Northwind refund policy allows refunds within 30 days for Falcon customers.",
        )
        budget = ingest(
            title="Falcon budget",
            text="The Falcon budget for Northwind refunds is EUR 40,000 per quarter, owned by Finance.",
        )
        handbook = ingest(
            title="Employee handbook",
            text="Northwind employees ask Finance about the refund policy and the Falcon project budget.",
            visible_to_tenant=True,
        )
        document_access_grant(document=refund_memo, principal=alice)
        document_access_grant(document=budget, principal=finance)
        yield Corpus(tenant.schema_name, alice, bob, carol, finance, refund_memo, budget, handbook)


def documents_found(corpus: Corpus, user: User, legs: tuple[str, ...]) -> set[int]:
    with in_tenant(corpus.schema):
        result = retrieve(user=user, query=QUERY, k=10, legs=legs)
    assert all(status == "ok" for status in result.legs.values()), result.legs
    return {chunk.document_id for chunk in result.chunks}


@pytest.mark.parametrize("legs", LEG_SETS)
@pytest.mark.parametrize("fusion", ["fixed", "calibrated"])
def test_every_leg_and_the_fusion_respect_document_permissions(corpus, committed_db, legs, fusion, settings):
    settings.RETRIEVAL_FUSION = fusion  # the calibrated fusion reads a sample of every chunk: it still returns none
    everyone = {corpus.refund_memo.pk, corpus.budget.pk, corpus.handbook.pk}

    assert documents_found(corpus, corpus.carol, legs) <= {corpus.handbook.pk}
    assert documents_found(corpus, corpus.alice, legs) <= {corpus.refund_memo.pk, corpus.handbook.pk}
    assert documents_found(corpus, corpus.bob, legs) <= {corpus.budget.pk, corpus.handbook.pk}
    if legs != ("graph",):  # the graph leg may legitimately miss; the others find everything allowed
        assert documents_found(corpus, corpus.alice, legs) == {corpus.refund_memo.pk, corpus.handbook.pk}
        assert documents_found(corpus, corpus.bob, legs) == {corpus.budget.pk, corpus.handbook.pk}
        admin = User(username="root", is_superuser=True, is_active=True)
        admin.pk = 10_000
        with in_tenant(corpus.schema):
            admin_found = {c.document_id for c in retrieve(user=admin, query=QUERY, k=10, legs=legs).chunks}
        assert admin_found == everyone


@pytest.mark.parametrize("leg", [PgvectorDenseLeg(), PostgresBM25Leg(), Neo4jGraphLeg()])
def test_each_leg_filters_inside_its_own_query_not_only_afterwards(corpus, committed_db, leg):
    """Candidates proposed by a leg are already permitted: the graph and BM25 cannot leak ids."""
    from apps.documents.models import Chunk
    from apps.integrations.embeddings.factory import embedder
    from apps.retrieval.runner import run_legs
    from apps.text.analyzer import analyze
    from apps.text.entities import extract_query_entities

    query = LegQuery(
        tenant=corpus.schema,
        principals=tuple(principals_for_user(corpus.carol)),
        text=QUERY,
        k=50,
        embedding=embedder().embed_query(QUERY),
        terms=tuple(analyze(QUERY)),
        entity_keys=tuple(entity.key for entity in extract_query_entities(text=QUERY)),
    )
    with override_settings(RETRIEVAL_LEGS={leg.name: f"{type(leg).__module__}.{type(leg).__name__}"}):
        outcome = run_legs({leg.name: query}, timeout=10)[leg.name]
    assert outcome.status == "ok"
    with in_tenant(corpus.schema):
        allowed = set(Chunk.objects.filter(document=corpus.handbook).values_list("pk", flat=True))
    assert {candidate.chunk_id for candidate in outcome.candidates} <= allowed


def test_a_revoked_grant_takes_effect_on_the_next_query_even_through_the_cache(corpus, committed_db):
    with in_tenant(corpus.schema):
        first = retrieve(user=corpus.bob, query=QUERY, k=10)
        assert corpus.budget.pk in {chunk.document_id for chunk in first.chunks}
        assert retrieve(user=corpus.bob, query=QUERY, k=10).cached  # the cache is really in use

        document_access_revoke(document=corpus.budget, principal=corpus.finance)
        try:
            after = retrieve(user=corpus.bob, query=QUERY, k=10)
            assert not after.cached
            assert corpus.budget.pk not in {chunk.document_id for chunk in after.chunks}
        finally:
            document_access_grant(document=corpus.budget, principal=corpus.finance)


def test_a_deleted_document_is_never_returned(corpus, committed_db):
    with in_tenant(corpus.schema):
        extra = ingest(
            title="Falcon refund addendum", text="Northwind Falcon refund policy addendum.", visible_to_tenant=True
        )
        assert extra.pk in {c.document_id for c in retrieve(user=corpus.carol, query=QUERY, k=10).chunks}
        document_delete(document=extra)
        for legs in LEG_SETS:
            assert extra.pk not in {
                c.document_id for c in retrieve(user=corpus.carol, query=QUERY, k=10, legs=legs).chunks
            }


def test_no_result_ever_crosses_tenants(corpus, committed_db):
    with committed_tenant("other") as other, in_tenant(other.schema_name):
        ingest(
            title="Other company", text="OTHER-TENANT Northwind refund policy Falcon budget.", visible_to_tenant=True
        )
        viewer = User.objects.create_user(username="viewer", password="x" * 16)
        for legs in LEG_SETS:
            texts = [chunk.text for chunk in retrieve(user=viewer, query=QUERY, k=10, legs=legs).chunks]
            assert all("OTHER-TENANT" in text for text in texts), texts
    with in_tenant(corpus.schema):
        for legs in LEG_SETS:
            texts = [c.text for c in retrieve(user=corpus.carol, query=QUERY, k=10, legs=legs).chunks]
            assert not any("OTHER-TENANT" in text for text in texts)


def test_users_without_principals_get_nothing(corpus, committed_db):
    inactive = User(username="gone", is_active=False)
    inactive.pk = 99_999
    with in_tenant(corpus.schema):
        result = retrieve(user=inactive, query=QUERY, k=10)
    assert result.chunks == []


@pytest.mark.parametrize(("double", "status"), [("SlowLeg", "timeout"), ("BrokenLeg", "error")])
def test_a_slow_or_failing_leg_is_dropped_and_reported(corpus, committed_db, double, status):
    legs = legs_with_graph(double)
    with override_settings(RETRIEVAL_LEGS=legs, RETRIEVAL_LEG_TIMEOUT_SECONDS=0.5), in_tenant(corpus.schema):
        result = retrieve(user=corpus.carol, query=QUERY, k=10)
    assert result.legs == {"dense": "ok", "keyword": "ok", "graph": status}
    assert {chunk.document_id for chunk in result.chunks} == {corpus.handbook.pk}


def test_a_result_missing_a_leg_is_cached_only_briefly(corpus, committed_db):
    legs = legs_with_graph("BrokenLeg")
    query = "refund requests of annual plans"
    with override_settings(DEGRADED_CACHE_TTL_SECONDS=1):
        with override_settings(RETRIEVAL_LEGS=legs), in_tenant(corpus.schema):
            degraded = retrieve(user=corpus.carol, query=query, k=10)
        with in_tenant(corpus.schema):
            replayed = retrieve(user=corpus.carol, query=query, k=10)
            time.sleep(1.2)
            healthy = retrieve(user=corpus.carol, query=query, k=10)
    assert degraded.legs["graph"] == replayed.legs["graph"] == "error"  # within the short TTL
    assert healthy.legs == {"dense": "ok", "keyword": "ok", "graph": "ok"}


def test_an_unreachable_embedder_drops_only_the_dense_leg(corpus, committed_db):
    """The question's embedding is computed while the other legs already run; if it fails, they still answer."""
    from tests.support.embedded import devservices

    with (
        override_settings(
            EMBEDDER_BACKEND="apps.integrations.embeddings.remote.OpenAICompatibleEmbedder",
            REMOTE_EMBEDDINGS_URL=f"http://127.0.0.1:{devservices.free_loopback_port()}/v1",  # nothing listens there
            REMOTE_EMBEDDINGS_TIMEOUT=1.0,
        ),
        in_tenant(corpus.schema),
    ):
        result = retrieve(user=corpus.carol, query=QUERY, k=10)
    assert result.legs == {"dense": "error", "keyword": "ok", "graph": "ok"}
    assert {chunk.document_id for chunk in result.chunks} == {corpus.handbook.pk}
