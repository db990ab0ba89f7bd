"""The bridge hop: a question of several hops takes a second round through the first round's best passage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.test import override_settings

from apps.accounts.models import User
from apps.documents.acl import principals_for_user
from apps.documents.models import Document
from apps.documents.services import document_access_grant
from apps.retrieval import search
from apps.retrieval.bridge import BRIDGE_LEGS, BRIDGE_NAMES, bridge_query, bridged, takes_bridge_hop
from apps.retrieval.search import RetrievedChunk, retrieve, retrieve_for_principals
from apps.tenants.context import in_tenant
from apps.text.entities import extract_query_entities
from tests.retrieval.corpus import document_ingest
from tests.support.committed import committed_tenant

FILM = "Big Eyes is a 2014 American biographical drama film directed by Tim Burton and starring Amy Adams."
QUESTION = "Who is the partner of the director of Big Eyes?"


def test_a_question_of_several_hops_is_asked_again_with_the_names_of_its_best_passage():
    bridge = bridge_query(QUESTION, FILM)
    assert bridge is not None
    assert bridge.startswith(QUESTION)
    added = bridge[len(QUESTION) :]
    assert "Tim Burton" in added
    assert "Big Eyes" not in added  # the question names it already


def test_a_plain_question_or_a_passage_without_new_names_takes_no_second_round():
    assert bridge_query("How many vacation days do I get per year?", FILM) is None
    assert bridge_query(QUESTION, "It is a drama about a painter and her husband.") is None


def test_a_situation_told_before_the_question_does_not_make_it_a_question_of_several_hops():
    assert not takes_bridge_hop("I live in a rented property which needs repairs. Can I withhold my rent?")
    assert takes_bridge_hop(QUESTION)
    # The sentence that asks still may build on another thing first.
    assert takes_bridge_hop(f"I saw a film last week. {QUESTION}")


def test_at_most_a_few_names_are_added():
    passage = "Anna Berg, Carl Dahl, Eva Frisk, Gustav Holm, Ida Jonsson and Karl Lund founded Northwind."
    bridge = bridge_query("Who is the founder of the company that makes Falcon?", passage)
    assert bridge is not None
    added = bridge.split("?", 1)[1]
    assert (
        sum(
            name in added for name in ("Anna Berg", "Carl Dahl", "Eva Frisk", "Gustav Holm", "Ida Jonsson", "Karl Lund")
        )
        == BRIDGE_NAMES
    )


def _chunk(chunk_id: int, *, dense: float) -> RetrievedChunk:
    return RetrievedChunk(
        chunk_id=chunk_id,
        document_id=chunk_id,
        document_title=f"d{chunk_id}",
        document_source="",
        ordinal=0,
        heading_path=[],
        text="",
        fused_score=0.0,
        fused_rank=0,
        leg_scores={"dense": dense},
        leg_ranks={"dense": 1},
    )


def test_both_rounds_are_fused_by_rank_and_only_the_first_rounds_scores_are_kept():
    first = [_chunk(1, dense=0.9), _chunk(2, dense=0.8), _chunk(3, dense=0.7)]
    second = [_chunk(4, dense=0.95), _chunk(2, dense=0.6), _chunk(5, dense=0.5)]

    merged = bridged(first, second, k=4, rrf_k=5.0)

    assert [chunk.chunk_id for chunk in merged] == [2, 1, 4, 3]  # in both rounds first, then by rank
    assert [chunk.fused_rank for chunk in merged] == [1, 2, 3, 4]
    assert merged[0].leg_scores == {"dense": 0.8}  # the question's own score, not the bridge question's
    assert merged[2].leg_scores == {}  # found only by the bridge round: its cosine answers another question


@dataclass
class Films:
    schema: str
    alice: User
    carol: User
    partner: Document


@pytest.fixture(scope="module")
def films(django_db_setup, django_db_blocker) -> Iterator[Films]:
    with django_db_blocker.unblock(), committed_tenant("brg") as tenant, in_tenant(tenant.schema_name):
        alice = User.objects.create_user(username="alice", password="x" * 16)
        carol = User.objects.create_user(username="carol", password="x" * 16)
        document_ingest(filename="big-eyes.md", text=f"# Big Eyes\n\n{FILM}", visible_to_tenant=True)
        partner = document_ingest(
            filename="tim-burton.md",
            text="# Tim Burton\n\nTim Burton's long-time partner was the actress Helena Bonham Carter.",
            visible_to_tenant=False,
        )
        document_access_grant(document=partner, principal=alice)
        yield Films(tenant.schema_name, alice, carol, partner)


@pytest.mark.integration
def test_the_bridge_round_returns_only_what_the_user_may_view(films, committed_db):
    with in_tenant(films.schema):
        for_alice = retrieve(user=films.alice, query=QUESTION, k=5)
        for_carol = retrieve(user=films.carol, query=QUESTION, k=5)
        with override_settings(RETRIEVAL_BRIDGE_HOP=False):
            without = retrieve(user=films.alice, query=QUESTION, k=5)

    assert "bridge" in for_alice.timings_ms
    assert "bridge" in for_carol.timings_ms
    assert "bridge" not in without.timings_ms
    assert films.partner.pk in {chunk.document_id for chunk in for_alice.chunks}
    assert films.partner.pk not in {chunk.document_id for chunk in for_carol.chunks}


@pytest.mark.integration
def test_the_bridge_round_runs_the_dense_and_graph_legs_only(films, committed_db, monkeypatch):
    rounds: list[tuple[str, ...]] = []
    walked: list[tuple[str, ...]] = []
    run_legs = search.legs_run

    def recorded(scope, query, **options):
        rounds.append(scope.legs)
        walked.append(options.get("walked_keys", ()))
        return run_legs(scope, query, **options)

    monkeypatch.setattr(search, "legs_run", recorded)
    with in_tenant(films.schema):
        retrieve_for_principals(principals=principals_for_user(films.alice), query=QUESTION, k=5, use_cache=False)
        retrieve_for_principals(
            principals=principals_for_user(films.alice), query=QUESTION, k=5, legs=["keyword"], use_cache=False
        )

    # The keyword-only search takes no second round: none of its legs is a bridge leg.
    assert rounds == [("dense", "keyword", "graph"), BRIDGE_LEGS, ("keyword",)]
    # The second round does not walk the question's own entities' neighbours again.
    question_keys = tuple(entity.key for entity in extract_query_entities(text=QUESTION))
    assert question_keys
    assert walked == [(), question_keys, ()]
